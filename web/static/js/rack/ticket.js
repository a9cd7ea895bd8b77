// The loading ticket (bill of lading): on screen, and alone on paper when printed (see @media print).
import { productLabel } from "../core/catalogue.js";
import { dateTime, h, litres, number } from "../core/dom.js";
import { t } from "../core/i18n.js";
import { details } from "../core/ui.js";

function printButton() {
  return h("button", { type: "button", class: "btn btn-primary", onclick: () => window.print() }, t("rack.print"));
}

/** A ticket the server issued (POST /rack/redeem or an accepted offline upload). */
export async function ticketCard(ticket, depot) {
  return h(
    "section",
    { class: "card ticket", id: "ticket", "aria-labelledby": "ticket-title" },
    h("h2", { id: "ticket-title" }, t("rack.ticket_title")),
    h("p", { class: "ticket-number" }, ticket.ticket_number),
    details([
      ["rack.depot", depot?.name || ""],
      ["pickup.reference", ticket.reference || ""],
      ["pickup.plate", ticket.vehicle_plate],
      ["order.product", await productLabel(ticket.product_code)],
      ["rack.observed", litres(ticket.loaded_litres_observed)],
      ["rack.temperature", `${number(ticket.temperature_c, 1)} °C`],
      ["rack.density", `${number(ticket.density_kg_m3, 1)} kg/m³`],
      ["rack.vcf", ticket.vcf],
      ["rack.net", `${litres(ticket.net_litres)} @ ${ticket.base_temperature_c} °C`],
      ["rack.loaded_at", dateTime(ticket.redeemed_at, depot?.timezone)],
      ["rack.offline_ticket", ticket.offline ? t("common.yes") : ""],
    ]),
    h("div", { class: "actions no-print" }, printButton()),
  );
}

/** A loading recorded while offline: provisional until the upload is accepted (net volume is computed then). */
export async function queuedCard(item, verdict, depot) {
  return h(
    "section",
    { class: "card ticket ticket-provisional", id: "ticket", "aria-labelledby": "ticket-title" },
    h("h2", { id: "ticket-title" }, t("rack.provisional_title")),
    h("p", { class: "notice warn" }, t("rack.provisional_lead")),
    details([
      ["rack.depot", depot?.name || ""],
      ["rack.offline_id", item.offline_id],
      ["pickup.plate", item.vehicle_plate],
      ["order.product", verdict.what_to_load ? await productLabel(verdict.what_to_load.products[0]) : ""],
      ["rack.observed", litres(item.loaded_litres_observed)],
      ["rack.temperature", `${number(item.temperature_c, 1)} °C`],
      ["rack.loaded_at", dateTime(item.redeemed_at, depot?.timezone)],
    ]),
    h("div", { class: "actions no-print" }, printButton()),
  );
}
