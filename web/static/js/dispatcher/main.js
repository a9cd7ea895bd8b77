// The dispatcher console (desktop): the day's orders, planning with live progress, the plan on a map and a
// timeline, pins, publishing, and the day's changes as they happen.
import { notFoundView, startRouter } from "../core/router.js";
import { initShell } from "../core/shell.js";
import { consoleView } from "./console.js";

const BASE = "/app/dispatcher";

const ready = await initShell({
  roles: ["dispatcher", "admin"],
  titleKey: "dispatcher.title",
  nav: [{ href: BASE, key: "dispatcher.nav_day" }],
});

if (ready) {
  startRouter({
    base: BASE,
    notFound: notFoundView,
    routes: [[/^$/, consoleView]],
  });
}
