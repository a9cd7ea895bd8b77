// The customer app (phone first): sites (added and changed with a pin on the map), quote and order, orders (shared
// by a link), pickup bookings and their QR codes and the driver's pass, the account (balance, invoices,
// statements).
import { session } from "../core/api.js";
import { notFoundView, startRouter } from "../core/router.js";
import { initShell } from "../core/shell.js";
import { accountView } from "./account.js";
import { homeView } from "./home.js";
import { notificationSettingsView, notificationsView, startBell } from "./notifications.js";
import { orderFormView } from "./order-form.js";
import { orderView } from "./order-page.js";
import { ordersView } from "./orders.js";
import { peopleView } from "./people.js";
import { pickupFormView } from "./pickup-form.js";
import { pickupView } from "./pickup-page.js";
import { pickupQrView } from "./pickup-qr.js";
import { pickupsView } from "./pickups.js";
import { receiptQrView } from "./receipt-qr.js";
import { can, canAny, loadMe } from "./roles.js";
import { siteFormView } from "./site-form.js";
import { standingListView, standingView } from "./standing.js";

const BASE = "/app/customer";
const ID = "([0-9a-fA-F-]{36})";

// Sign-up links printed before the sign-up page had its own app: the public form, no login.
if (location.pathname.replace(/\/+$/, "") === `${BASE}/apply`) {
  location.replace(`/app/apply${location.search}`);
} else {
  // The user's role in its account decides what the navigation offers (customer/roles.js).
  if (session.token && session.role === "customer") await loadMe().catch(() => null);
  const nav = [
    { href: BASE, key: "nav.sites", may: ["sites"] },
    { href: `${BASE}/order`, key: "nav.order", may: ["order"] },
    { href: `${BASE}/orders`, key: "nav.orders", prefix: true, may: ["orders"] },
    { href: `${BASE}/pickup`, key: "nav.book_pickup", may: ["pickup"] },
    { href: `${BASE}/pickups`, key: "nav.pickups", prefix: true, may: ["pickups"] },
    { href: `${BASE}/account`, key: "nav.account" },
    { href: `${BASE}/people`, key: "nav.people", may: ["people", "approve"] },
    { href: `${BASE}/standing-orders`, key: "nav.standing", prefix: true, may: ["standing"] },
  ];
  const ready = await initShell({
    roles: ["customer"],
    titleKey: "customer.title",
    nav: nav.filter((item) => !item.may || canAny(...item.may)),
  });

  if (ready) {
    startBell();
    startRouter({
      base: BASE,
      notFound: notFoundView,
      routes: [
        [/^$/, can("sites") ? homeView : accountView], // finance: the money is its home
        [/^sites\/new$/, (main, _params, ctx) => siteFormView(main, [], ctx)],
        [new RegExp(`^sites/${ID}$`), siteFormView],
        [/^account$/, accountView],
        [/^people$/, peopleView],
        [/^order$/, orderFormView],
        [/^orders$/, ordersView],
        [new RegExp(`^orders/${ID}$`), orderView],
        [new RegExp(`^orders/${ID}/receipt$`), receiptQrView],
        [/^pickup$/, pickupFormView],
        [/^pickups$/, pickupsView],
        [new RegExp(`^pickups/${ID}$`), pickupView],
        [new RegExp(`^pickups/${ID}/qr$`), pickupQrView],
        [/^notifications$/, notificationsView],
        [/^notifications\/settings$/, notificationSettingsView],
        [/^standing-orders$/, standingListView],
        [new RegExp(`^standing-orders/${ID}$`), standingView],
      ],
    });
  }
}
