// One pickup booking: details, the way to its QR code, the pass for the truck's driver (sent to a phone, or a link
// to copy), its place at the depot gate once checked in, its timeline, cancelling while booked. It follows the
// booking live (GET /pickups/{id}/live): the check-in and the loading ticket appear without a reload; a poll stays
// as a safety net.
import { api } from "../core/api.js";
import { depotById, productLabel } from "../core/catalogue.js";
import { dateTime, h, litres, money, time } from "../core/dom.js";
import { IdempotencyKeys, busy, clearErrors, errorText, field, showError } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { absolute, copyableLink } from "../core/links.js";
import { follow } from "../core/live.js";
import { banner, setTitle } from "../core/shell.js";
import { details, errorState, statusChip, timeline } from "../core/ui.js";
import { can } from "./roles.js";

const REFRESH_MS = 10_000; // no live stream: look again this often
const SLOW_REFRESH_MS = 30_000; // with the live stream: a safety net
const OPEN = new Set(["booked", "loading"]);

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

/** Send the pass to the driver's phone; the link to copy appears once sent. */
function passCard(booking) {
  const phone = h("input", { name: "phone", type: "tel", inputmode: "tel", autocomplete: "tel", required: true, value: booking.driver_phone });
  const result = h("div", { class: "pass-link", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "card form pass-form", novalidate: true, "aria-labelledby": "pass-title" },
    h("h2", { id: "pass-title" }, t("pass.send_title")),
    h("p", { class: "hint" }, t("pass.send_hint")),
    field("pass.phone", phone),
    h("button", { type: "submit", class: "btn btn-primary btn-block" }, t("pass.send")),
    result,
  );
  // One key per attempt: a retry after a lost answer gets the pass made and the driver one SMS; sending again
  // once it went is a new pass (the driver lost the message).
  let keys = new IdempotencyKeys();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    busy(form, async () => {
      const body = { phone: phone.value.trim() };
      try {
        const sent = await api(`/pickups/${booking.id}/pass`, { method: "POST", body, headers: { "Idempotency-Key": keys.keyFor(body) } });
        keys = new IdempotencyKeys();
        result.replaceChildren(
          h("p", { class: "notice ok" }, t("pass.sent", { phone: sent.phone })),
          copyableLink(absolute(sent.url), { id: "pass-url" }),
        );
      } catch (error) {
        showError(form, error);
      }
    });
  });
  return form;
}

/** Where the truck stands at the depot gate: not yet checked in, or its queue position and bay. */
function gateCard(gate, timeZone) {
  const at = gate.check_in;
  if (!at) {
    return h(
      "section",
      { class: "card gate", id: "gate", dataset: { checkedIn: "0" } },
      h("h2", {}, t("gate.title")),
      h("p", { class: "muted" }, t("gate.not_yet", { from: time(gate.check_in_opens_at, timeZone), until: time(gate.check_in_closes_at, timeZone) })),
    );
  }
  return h(
    "section",
    { class: "card gate", id: "gate", dataset: { checkedIn: "1", bay: at.bay ?? "", position: at.queue_position ?? "" } },
    h("h2", {}, t("gate.title")),
    h("p", { class: "gate-checked-in" }, t("gate.checked_in_at", { time: time(at.checked_in_at, timeZone) })),
    details([
      ["gate.position", at.queue_position ? t("gate.position_of", { n: at.queue_position, total: at.queue_length }) : ""],
      ["gate.bay", at.bay ? t("gate.bay_n", { n: at.bay }) : at.queue_position ? t("gate.waiting_for_bay") : ""],
    ]),
  );
}

export async function pickupView(main, [id], ctx) {
  setTitle("pickup.page_title");
  const header = h("div", { class: "page-header" });
  const body = h("div", {});
  const events = h("section", { class: "card", "aria-labelledby": "timeline-title" });
  main.append(header, body, events);
  let lastSeen = "";
  let pass = null;

  async function draw() {
    const [booking, history, gate] = await Promise.all([
      api(`/pickups/${id}`),
      api(`/pickups/${id}/events`),
      api(`/pickups/${id}/check-in`),
    ]);
    if (!ctx.isCurrent()) return;
    const at = gate.check_in;
    const seen = `${booking.status}|${history.length}|${at?.bay ?? ""}|${at?.queue_position ?? ""}`;
    if (seen === lastSeen) return;
    lastSeen = seen;
    const depot = await depotById(booking.depot_id);
    const tz = depot?.timezone || "Asia/Shanghai";
    setTitle("pickup.page_title_ref", { reference: booking.reference });
    header.replaceChildren(
      h("h1", {}, t("pickup.page_title_ref", { reference: booking.reference })),
      h("p", { class: "status-line", "aria-live": "polite" }, statusChip(booking.status)),
    );
    body.replaceChildren();
    if (booking.status === "booked") {
      body.append(h("a", { class: "btn btn-primary btn-block btn-qr", href: `/app/customer/pickups/${id}/qr` }, t("pickup.show_qr")));
    }
    if (OPEN.has(booking.status) || at) body.append(gateCard(gate, tz));
    body.append(h("section", { class: "card" }, await bookingDetails(booking)));
    if (OPEN.has(booking.status) && can("pickup_pass")) {
      pass ||= passCard(booking); // kept across redraws: the link just sent stays on screen
      body.append(pass);
    }
    if (booking.status === "booked" && can("pickup")) body.append(cancelButton(booking, draw));
    events.replaceChildren(h("h2", { id: "timeline-title" }, t("timeline.title")), timeline(history, tz));
  }

  try {
    await draw();
  } catch (error) {
    main.replaceChildren(errorState(error, () => ctx.navigate(`pickups/${id}`, { replace: true })));
    return undefined;
  }
  let every = REFRESH_MS;
  let timer = null;
  const poll = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (document.visibilityState === "visible") draw().catch(() => {});
      poll();
    }, every);
  };
  const stopLive = follow(`/pickups/${id}/live`, {
    onState: (state) => {
      main.dataset.live = state;
      every = state === "live" ? SLOW_REFRESH_MS : REFRESH_MS;
      poll();
    },
    onEvent: (event) => {
      if (event.type !== "ready") draw().catch(() => {});
    },
  });
  poll();
  return () => {
    stopLive();
    clearTimeout(timer);
  };
}
