// The delivery windows the fleet can still serve on the quote's day (GET /availability): the feasible ones to choose
// from, the others shown with the reason, and the earliest window the quote found (POST /quotes' earliest_window).
// When the fleet is full that day (the quote's fleet_full), the quote's proposals in words: the next window, with a
// button that takes it, and a pickup slot at the serving depot, with a button that books it instead.
import { api } from "../core/api.js";
import { day, h, uid } from "../core/dom.js";
import { t } from "../core/i18n.js";

const REASONS = new Set([
  "site_closed",
  "cut_off",
  "no_tanker_free",
  "compartments_full",
  "shift_ends",
  "no_vehicle_class",
  "too_large",
  "unreachable",
  "depot_closed",
]);

function reasonText(code) {
  return t(REASONS.has(code) ? `window.reason.${code}` : "window.reason.other");
}

function earliestLine(quote, onUse) {
  const e = quote.earliest_window;
  if (!e) return h("p", { class: "notice warn", id: "no-window" }, t("window.none_soon"));
  const when = t("window.earliest", { day: day(e.delivery_date), start: e.window_start, end: e.window_end });
  const promise = t(e.within_promise ? "window.within_promise" : "window.outside_promise", { hours: e.promise_hours });
  const parts = [h("strong", {}, when), " ", h("span", { class: e.within_promise ? "ok" : "warn" }, promise)];
  if (e.delivery_date !== quote.delivery_date) {
    parts.push(" ", h("button", { type: "button", class: "btn-link", id: "use-earliest", onclick: () => onUse(e) }, t("window.use_day")));
  }
  return h("p", { class: "earliest", id: "earliest-window", "data-within-promise": String(e.within_promise) }, ...parts);
}

// The slot's own local time as the API wrote it (the depot's offset): "2030-01-08T06:00:00+08:00".
const localDay = (iso) => iso.slice(0, 10);
const localTime = (iso) => iso.slice(11, 16);

function fleetFull(quote, onUse, onPickup) {
  const e = quote.earliest_window;
  const p = quote.pickup_alternative;
  const parts = [h("p", { class: "fleet-full-title" }, h("strong", {}, t("window.fleet_full", { day: day(quote.delivery_date) })))];
  if (e) {
    const promise = t(e.within_promise ? "window.within_promise" : "window.outside_promise", { hours: e.promise_hours });
    parts.push(
      h(
        "p",
        { id: "next-window", dataset: { day: e.delivery_date, start: e.window_start, end: e.window_end } },
        t("window.next_window", { day: day(e.delivery_date), start: e.window_start, end: e.window_end }),
        " ",
        h("span", { class: e.within_promise ? "ok" : "warn" }, promise),
        " ",
        h("button", { type: "button", class: "btn btn-small", id: "take-next-window", onclick: () => onUse(e) }, t("window.take_next")),
      ),
    );
  }
  if (p) {
    const when = { day: day(localDay(p.slot_start_at)), start: localTime(p.slot_start_at), end: localTime(p.slot_end_at) };
    parts.push(
      h(
        "p",
        { id: "pickup-alternative", dataset: { depot: p.depot_id, slot: p.slot_start_at } },
        t("window.pickup_alternative", { depot: p.depot_name, n: p.places_left, ...when }),
        " ",
        h("button", { type: "button", class: "btn btn-small", id: "book-pickup-slot", onclick: () => onPickup(p) }, t("window.book_pickup")),
      ),
    );
  }
  if (!e && !p) parts.push(h("p", {}, t("window.none_soon")));
  return h("div", { class: "notice warn fleet-full", id: "fleet-full", role: "status" }, ...parts);
}

/**
 * The windows panel: `start` and `end` are the form's window selects, set when a window is chosen; `onUseDay` moves
 * the form to the earliest window's day; `onPickup` takes the quote's pickup slot to the pickup booking. Null when the service does not answer availability (the form then keeps
 * its free choice of window, which the order's own check still guards).
 */
export async function windowsPanel(quote, { product, start, end, onUseDay, onPickup }) {
  let windows;
  try {
    const query = new URLSearchParams({
      site_id: quote.site_id,
      product_code: product,
      quantity_litres: String(quote.quantity_litres),
      date: quote.delivery_date,
    });
    windows = await api(`/availability?${query}`);
  } catch {
    return null;
  }
  const name = uid("window");
  const feasible = windows.filter((w) => w.feasible);
  const current = feasible.find((w) => w.window_start === start.value && w.window_end === end.value) || feasible[0];
  if (current) {
    start.value = current.window_start;
    end.value = current.window_end;
  }
  const items = windows.map((w) => {
    const label = `${w.window_start}–${w.window_end}`;
    const input = h("input", {
      type: "radio",
      name,
      value: label,
      disabled: !w.feasible,
      checked: w === current,
      onchange: () => {
        start.value = w.window_start;
        end.value = w.window_end;
      },
    });
    return h(
      "li",
      { class: w.feasible ? "window-ok" : "window-full", dataset: { window: label, feasible: String(w.feasible) } },
      h("label", {}, input, " ", label, w.feasible ? null : h("span", { class: "window-reason" }, ` — ${reasonText(w.reason)}`)),
    );
  });
  return h(
    "fieldset",
    { class: "windows", id: "windows" },
    h("legend", {}, t("window.title")),
    quote.fleet_full ? fleetFull(quote, onUseDay, onPickup) : earliestLine(quote, onUseDay),
    feasible.length || quote.fleet_full ? null : h("p", { class: "notice warn" }, t("window.day_full")),
    h("ul", { class: "window-list" }, ...items),
  );
}
