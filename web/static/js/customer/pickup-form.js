// Book a loading slot at a depot for the customer's own truck: a slot picker with the places left.
import { api } from "../core/api.js";
import { loadDepots, loadProducts, productName } from "../core/catalogue.js";
import { h, isoDay, money, time, uid, unitPrices } from "../core/dom.js";
import {
  IdempotencyKeys,
  busy,
  checkRequired,
  clearErrors,
  field,
  quantityBody,
  quantityUnit,
  select,
  showError,
} from "../core/forms.js";
import { t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { errorState, pageHeader } from "../core/ui.js";

const PLATE_KEY = "dd.last_plate";

function slotOption(slot, timeZone, name) {
  const id = uid("slot");
  const full = slot.remaining <= 0;
  return h(
    "div",
    { class: `slot${full ? " slot-off" : ""}` },
    h("input", { type: "radio", name, id, value: slot.start, disabled: full }),
    h(
      "label",
      { for: id },
      h("span", { class: "slot-time" }, `${time(slot.start, timeZone)}–${time(slot.end, timeZone)}`),
      h("span", { class: "slot-places" }, full ? t("pickup.slot_full") : t("pickup.places_left", { n: slot.remaining })),
    ),
  );
}

/** The slots still open for booking (those already started are left out, with a word about them). */
function slotList(list, timeZone) {
  if (!list.length) return [h("p", { class: "muted" }, t("pickup.no_slots"))];
  const now = Date.now();
  const open = list.filter((s) => new Date(s.start).getTime() > now);
  const passed = list.length - open.length;
  return [
    passed ? h("p", { class: "muted small slots-note" }, t("pickup.slots_passed", { n: passed })) : null,
    ...open.map((s) => slotOption(s, timeZone, "slot_start")),
    open.length ? null : h("p", { class: "muted" }, t("pickup.no_slots_left")),
  ].filter(Boolean);
}

/**
 * The booking form; `?depot=&date=&product=&litres=&slot=` (the order form's pickup proposal when the fleet is full)
 * fill it in and choose that slot.
 */
export async function pickupFormView(main, _params, ctx) {
  setTitle("pickup.title");
  main.append(pageHeader("pickup.title"));
  let depots;
  let products;
  try {
    [depots, products] = await Promise.all([loadDepots(), loadProducts()]);
  } catch (error) {
    main.append(errorState(error));
    return;
  }
  if (!ctx.isCurrent()) return;

  const asked = ctx.query;
  const askedDepot = depots.some((d) => d.id === asked.get("depot")) ? asked.get("depot") : undefined;
  const depot = select("depot_id", depots.map((d) => ({ value: d.id, label: d.name })), { value: askedDepot });
  const product = h("select", { name: "product_code", required: true });
  const quantity = h("input", { name: "quantity_litres", type: "number", inputmode: "decimal", min: "0", step: "1", value: "10000", required: true });
  const unit = quantityUnit(quantity);
  const askedDay = /^\d{4}-\d{2}-\d{2}$/.test(asked.get("date") || "") ? asked.get("date") : isoDay(1);
  const date = h("input", { name: "date", type: "date", required: true, min: isoDay(0), value: askedDay });
  if (/^\d+$/.test(asked.get("litres") || "")) quantity.value = asked.get("litres");
  const slots = h("div", { class: "slots", role: "radiogroup", "aria-labelledby": "slots-legend" });
  const slotError = h("p", { class: "field-error", id: "slot-error", dataset: { errorFor: "slot_start" } });
  const slotBox = h(
    "fieldset",
    { class: "field", "aria-describedby": "slot-error" },
    h("legend", { id: "slots-legend" }, t("pickup.slot")),
    slots,
    slotError,
  );
  const plate = h("input", { name: "vehicle_plate", autocomplete: "off", autocapitalize: "characters", required: true, value: localStorage.getItem(PLATE_KEY) || "" });
  const driver = h("input", { name: "driver_name", autocomplete: "name", required: true });
  const phone = h("input", { name: "driver_phone", type: "tel", autocomplete: "tel", inputmode: "tel", required: true });
  const estimate = h("p", { class: "estimate", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "card form", novalidate: true },
    field("pickup.depot", depot),
    field("order.product", product),
    h("div", { class: "row" }, field("order.quantity", quantity), field("order.unit", unit)),
    estimate,
    field("pickup.date", date),
    slotBox,
    field("pickup.plate", plate, { hint: "pickup.plate_hint" }),
    field("pickup.driver", driver),
    field("pickup.phone", phone),
    h("button", { type: "submit", class: "btn btn-primary btn-block" }, t("pickup.book")),
  );
  main.append(form);

  let timeZone = "Asia/Shanghai";
  let price = null;

  function fillProducts() {
    const chosen = depots.find((d) => d.id === depot.value);
    timeZone = chosen.timezone;
    const previous = product.value;
    product.replaceChildren(
      ...products
        .filter((p) => chosen.products.includes(p.code))
        .map((p) => h("option", { value: p.code, selected: p.code === previous }, productName(p))),
    );
  }

  /** The list price of the chosen day (before discounts) for the quantity asked, in litres or in tonnes. */
  function showEstimate() {
    const wanted = quantityBody(quantity, unit);
    const density = products.find((p) => p.code === product.value)?.density_kg_m3;
    const litresWanted = wanted.quantity_litres ?? (density ? Math.round((wanted.quantity_kg * 1000) / density) : 0);
    if (!price || !litresWanted) {
      estimate.textContent = "";
      return;
    }
    estimate.textContent = t("pickup.estimate", {
      unit: unitPrices(price.price_per_litre_minor, price.price_per_tonne_minor),
      total: money(price.price_per_litre_minor * litresWanted, price.currency),
    });
  }

  let slotRequest = 0;
  async function loadSlots() {
    const mine = ++slotRequest; // only the answer to the latest choice is drawn
    slots.replaceChildren(h("p", { class: "muted" }, t("common.loading")));
    const query = new URLSearchParams({ date: date.value, product_code: product.value });
    try {
      const [list, prices] = await Promise.all([
        api(`/depots/${depot.value}/slots?${query}`),
        api(`/prices?${new URLSearchParams({ date: date.value, depot_id: depot.value })}`),
      ]);
      if (mine !== slotRequest) return;
      price = prices.find((p) => p.product_code === product.value) || null;
      showEstimate();
      slots.replaceChildren(...slotList(list, timeZone));
    } catch (error) {
      if (mine === slotRequest) slots.replaceChildren(errorState(error, loadSlots));
    }
  }

  depot.addEventListener("change", () => {
    fillProducts();
    loadSlots();
  });
  product.addEventListener("change", loadSlots);
  date.addEventListener("change", () => date.value && loadSlots());
  quantity.addEventListener("input", showEstimate);
  unit.addEventListener("change", showEstimate);
  fillProducts();
  if (asked.get("product") && [...product.options].some((o) => o.value === asked.get("product"))) product.value = asked.get("product");
  await loadSlots();
  const proposed = [...form.querySelectorAll("input[name=slot_start]")].find((input) => input.value === asked.get("slot"));
  if (proposed && !proposed.disabled) {
    proposed.checked = true;
    proposed.closest(".slot")?.classList.add("slot-proposed");
  }

  const keys = new IdempotencyKeys();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!checkRequired(form)) return;
    const chosen = form.querySelector("input[name=slot_start]:checked");
    if (!chosen) {
      showError(form, { code: "slot_required", field: "slot_start", status: 400, detail: "" });
      return;
    }
    const body = {
      depot_id: depot.value,
      product_code: product.value,
      ...quantityBody(quantity, unit),
      slot_start: chosen.value,
      vehicle_plate: plate.value.trim(),
      driver_name: driver.value.trim(),
      driver_phone: phone.value.trim(),
    };
    busy(form, async () => {
      clearErrors(form);
      try {
        const booking = await api("/pickups", {
          method: "POST",
          body,
          headers: { "Idempotency-Key": keys.keyFor(body) },
        });
        localStorage.setItem(PLATE_KEY, body.vehicle_plate);
        banner(t("pickup.booked", { reference: booking.reference }), "ok");
        ctx.navigate(`pickups/${booking.id}`);
      } catch (error) {
        showError(form, error);
        if (error.code === "slot_full") loadSlots();
      }
    });
  });
}
