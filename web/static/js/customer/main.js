// The customer app (phone first): sites, quote and order, orders, pickup bookings and their QR codes.
import { notFoundView, startRouter } from "../core/router.js";
import { initShell } from "../core/shell.js";
import { homeView } from "./home.js";
import { orderFormView } from "./order-form.js";
import { orderView } from "./order-page.js";
import { ordersView } from "./orders.js";
import { pickupFormView } from "./pickup-form.js";
import { pickupView } from "./pickup-page.js";
import { pickupQrView } from "./pickup-qr.js";
import { pickupsView } from "./pickups.js";
import { receiptQrView } from "./receipt-qr.js";

const BASE = "/app/customer";
const ID = "([0-9a-fA-F-]{36})";

const ready = await initShell({
  roles: ["customer"],
  titleKey: "customer.title",
  nav: [
    { href: BASE, key: "nav.sites" },
    { href: `${BASE}/order`, key: "nav.order" },
    { href: `${BASE}/orders`, key: "nav.orders", prefix: true },
    { href: `${BASE}/pickup`, key: "nav.book_pickup" },
    { href: `${BASE}/pickups`, key: "nav.pickups", prefix: true },
  ],
});

if (ready) {
  startRouter({
    base: BASE,
    notFound: notFoundView,
    routes: [
      [/^$/, homeView],
      [/^order$/, orderFormView],
      [/^orders$/, ordersView],
      [new RegExp(`^orders/${ID}$`), orderView],
      [new RegExp(`^orders/${ID}/receipt$`), receiptQrView],
      [/^pickup$/, pickupFormView],
      [/^pickups$/, pickupsView],
      [new RegExp(`^pickups/${ID}$`), pickupView],
      [new RegExp(`^pickups/${ID}/qr$`), pickupQrView],
    ],
  });
}
