// One pickup booking: details, the way to its QR code, its timeline, cancelling while booked.
import { api } from "../core/api.js";
import { depotById, productLabel } from "../core/catalogue.js";
import { dateTime, h, litres, money, time } from "../core/dom.js";
import { errorText } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { details, errorState, statusChip, timeline } from "../core/ui.js";

const REFRESH_MS = 10_000;

/** The booking's facts, shared with the full-screen QR page. */
export async function bookingDetails(booking) {
  const depot = await depotById(booking.depot_id);
  const tz = depot?.timezone || "Asia/Shanghai";
  return details([
    ["pickup.reference", booking.reference],
    ["pickup.depot", depot ? depot.name : ""],
    ["pickup.slot", `${dateTime(booking.slot_start, tz)}–${time(booking.slot_end, tz)}`],
    ["order.product", await productLabel(booking.product_code)],
    ["order.quantity", litres(booking.quantity_litres)],
    ["pickup.plate", booking.vehicle_plate],
    ["pickup.driver", `${booking.driver_name} · ${booking.driver_phone}`],
    ["pickup.loaded", booking.loaded_litres_observed ? `${litres(booking.loaded_litres_observed)} (${t("pickup.net")} ${litres(booking.loaded_litres_net)})` : ""],
    ["pickup.ticket", booking.ticket_number || ""],
    ["quote.total", money(booking.price.amount_minor, booking.price.currency)],
  ]);
}

function cancelButton(booking, redraw) {
  const error = h("p", { class: "field-error", role: "alert" });
  const button = h("button", { type: "button", class: "btn btn-danger-outline" }, t("pickup.cancel"));
  button.addEventListener("click", async () => {
    if (button.dataset.armed !== "1") {
      button.dataset.armed = "1";
      button.textContent = t("pickup.cancel_confirm");
      return;
    }
    try {
      await api(`/pickups/${booking.id}/cancel`, { method: "POST", body: { reason: "cancelled by the customer" } });
      banner(t("pickup.cancelled"), "ok");
      redraw();
    } catch (err) {
      error.textContent = errorText(err);
    }
  });
  return h("div", { class: "cancel" }, button, error);
}

export async function pickupView(main, [id], ctx) {
  setTitle("pickup.page_title");
  const header = h("div", { class: "page-header" });
  const body = h("div", {});
  const events = h("section", { class: "card", "aria-labelledby": "timeline-title" });
  main.append(header, body, events);
  let lastSeen = "";

  async function draw() {
    const [booking, history] = await Promise.all([api(`/pickups/${id}`), api(`/pickups/${id}/events`)]);
    if (!ctx.isCurrent()) return;
    const seen = `${booking.status}|${history.length}`;
    if (seen === lastSeen) return;
    lastSeen = seen;
    const depot = await depotById(booking.depot_id);
    setTitle("pickup.page_title_ref", { reference: booking.reference });
    header.replaceChildren(
      h("h1", {}, t("pickup.page_title_ref", { reference: booking.reference })),
      h("p", { class: "status-line" }, statusChip(booking.status)),
    );
    body.replaceChildren();
    if (booking.status === "booked") {
      body.append(h("a", { class: "btn btn-primary btn-block btn-qr", href: `/app/customer/pickups/${id}/qr` }, t("pickup.show_qr")));
    }
    body.append(h("section", { class: "card" }, await bookingDetails(booking)));
    if (booking.status === "booked") body.append(cancelButton(booking, draw));
    events.replaceChildren(h("h2", { id: "timeline-title" }, t("timeline.title")), timeline(history, depot?.timezone));
  }

  try {
    await draw();
  } catch (error) {
    main.replaceChildren(errorState(error, () => ctx.navigate(`pickups/${id}`, { replace: true })));
    return undefined;
  }
  const timer = setInterval(() => {
    if (document.visibilityState === "visible") draw().catch(() => {});
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
