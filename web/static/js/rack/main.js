// The rack app (tablet at the loading platform): scan or type a code, see at once whether to load, record it.
import { loadProducts } from "../core/catalogue.js";
import { notFoundView, startRouter } from "../core/router.js";
import { initShell } from "../core/shell.js";
import { depotView } from "./depot-view.js";
import { scanView } from "./scan-view.js";

const BASE = "/app/rack";

const ready = await initShell({
  roles: ["rack_operator", "admin"],
  titleKey: "rack.title",
  nav: [
    { href: BASE, key: "rack.nav_scan" },
    { href: `${BASE}/depot`, key: "rack.nav_depot" },
  ],
});

if (ready) {
  // While the network is there: the product names an offline check will show (the scan view caches the keys).
  loadProducts().catch(() => {});
  startRouter({
    base: BASE,
    notFound: notFoundView,
    routes: [
      [/^$/, scanView],
      [/^depot$/, depotView],
    ],
  });
}
