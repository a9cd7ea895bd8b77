// My pickup bookings: the coming ones first, with status chips and a quick way to the QR code.
import { api } from "../core/api.js";
import { depotById, productLabel } from "../core/catalogue.js";
import { dateTime, h, litres, time } from "../core/dom.js";
import { t } from "../core/i18n.js";
import { setTitle } from "../core/shell.js";
import { emptyState, errorState, linkButton, pageHeader, statusChip } from "../core/ui.js";
import { can } from "./roles.js";

async function pickupRow(booking) {
  const depot = await depotById(booking.depot_id);
  const tz = depot?.timezone || "Asia/Shanghai";
  return h(
    "li",
    { class: "list-item" },
    h(
      "a",
      { href: `/app/customer/pickups/${booking.id}`, class: "list-link" },
      h("span", { class: "list-main" }, h("strong", {}, booking.reference), statusChip(booking.status)),
      h("span", { class: "list-sub" }, `${dateTime(booking.slot_start, tz)}–${time(booking.slot_end, tz)} · ${depot?.name || ""}`),
      h(
        "span",
        { class: "list-sub muted" },
        `${await productLabel(booking.product_code)} · ${litres(booking.quantity_litres)} · ${booking.vehicle_plate}`,
      ),
    ),
    booking.status === "booked"
      ? h("a", { class: "btn btn-qr", href: `/app/customer/pickups/${booking.id}/qr` }, t("pickup.show_qr"))
      : null,
  );
}

export async function pickupsView(main, _params, ctx) {
  setTitle("pickups.title");
  main.append(pageHeader("pickups.title", {}, can("pickup") ? linkButton("/app/customer/pickup", "nav.book_pickup", "btn btn-primary") : null));
  try {
    const page = await api("/pickups?limit=50");
    if (!ctx.isCurrent()) return;
    main.append(
      page.items.length
        ? h("ul", { class: "list" }, await Promise.all(page.items.map(pickupRow)))
        : emptyState("pickups.none"),
    );
  } catch (error) {
    main.append(errorState(error));
  }
}
