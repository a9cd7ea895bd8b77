// The driver app (phone, in the cab, with gloves): the day's trips and stops in order, the load code for the
// rack, arrive / deliver / fail, the customer's receipt code read with the camera, positions while under way.
import { notFoundView, startRouter } from "../core/router.js";
import { initShell } from "../core/shell.js";
import { codeView } from "./code-view.js";
import { routeView } from "./route-view.js";
import { stopView } from "./stop-view.js";

const BASE = "/app/driver";
const ID = "([0-9a-fA-F-]{36})";

const ready = await initShell({
  roles: ["driver"],
  titleKey: "driver.title",
  nav: [{ href: BASE, key: "driver.nav_route" }],
});

if (ready) {
  startRouter({
    base: BASE,
    notFound: notFoundView,
    routes: [
      [/^$/, routeView],
      [new RegExp(`^stops/${ID}$`), stopView],
      [new RegExp(`^trips/${ID}/code$`), codeView],
    ],
  });
}
