// Quote and order: the price is shown before the order is confirmed, with the serving depot's drivers to ask for
// one; refusals appear next to their field.
import { allPages, api } from "../core/api.js";
import { loadProducts, productName } from "../core/catalogue.js";
import { h, isoDay, litres, money, number, tonnes, unitPrices } from "../core/dom.js";
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
import { details, emptyState, errorState, pageHeader } from "../core/ui.js";
import { windowsPanel } from "./windows.js";

function halfHours(from, to) {
  const out = [];
  for (let m = from; m <= to; m += 30) {
    out.push(`${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`);
  }
  return out.map((value) => ({ value, label: value }));
}

function quotePanel(quote) {
  const p = quote.price;
  return [
    h("h2", {}, t("quote.title")),
    details([
      ["quote.depot", `${quote.depot.name} (${number(quote.depot.distance_km, 1)} km)`],
      ["quote.quantity", `${litres(quote.quantity_litres)} ≈ ${tonnes(quote.quantity_kg)}`],
      ["quote.unit_price", unitPrices(p.price_per_litre_minor, p.price_per_tonne_minor)],
      ["quote.gross", money(p.gross_minor, p.currency)],
      p.discount_per_litre_minor
        ? ["quote.contract_discount", `− ${unitPrices(p.discount_per_litre_minor, null)}`]
        : null,
      p.discount_minor ? ["quote.discount", `− ${money(p.discount_minor, p.currency)}`] : ["quote.discount", ""],
    ].filter(Boolean)),
    h("p", { class: "total" }, h("span", {}, t("quote.total")), h("strong", {}, money(p.amount_minor, p.currency))),
    quote.within_credit
      ? null
      : h("p", { class: "notice warn" }, t("quote.over_credit", { available: money(quote.available_credit_minor) })),
  ];
}

// "The same as last time" from a day's-price message: the signed link's token fills the form in as the last order.
async function fillFromLastOrder(token, fields) {
  if (!token) return;
  try {
    const last = await api(`/me/repeat-order/${encodeURIComponent(token)}`);
    fields.site.value = last.site_id;
    fields.product.value = last.product_code;
    fields.quantity.value = String(last.quantity_litres);
    fields.start.value = last.window_start;
    fields.end.value = last.window_end;
    if (last.note) fields.note.value = last.note;
  } catch (error) {
    banner(t("order.repeat_link_invalid"), "warn");
  }
}

/** The drivers based at the serving depot (GET /depots/{id}/drivers, names only): whom the order may ask for. */
async function driverChoice(depotId, day) {
  let drivers = [];
  try {
    drivers = await api(`/depots/${depotId}/drivers?date=${day}`);
  } catch {
    return null; // no choice offered: the order goes without a preference
  }
  if (!drivers.length) return null;
  const choice = select(
    "preferred_driver_id",
    [{ value: "", label: t("order.no_driver_preference") }, ...drivers.map((d) => ({ value: d.id, label: d.name }))],
    { value: "", required: false },
  );
  return field("order.preferred_driver", choice, { hint: "order.preferred_driver_hint" });
}

export async function orderFormView(main, _params, ctx) {
  setTitle("order.title");
  main.append(pageHeader("order.title"));
  let sites;
  let products;
  try {
    [sites, products] = await Promise.all([allPages("/sites"), loadProducts()]);
  } catch (error) {
    main.append(errorState(error, () => ctx.navigate("order", { replace: true })));
    return;
  }
  if (!ctx.isCurrent()) return;
  if (!sites.length) {
    main.append(emptyState("sites.none"));
    return;
  }

  const site = select(
    "site_id",
    sites.map((s) => ({ value: s.id, label: s.name })),
    { value: ctx.query.get("site") || sites[0].id },
  );
  const product = select(
    "product_code",
    products.map((p) => ({ value: p.code, label: productName(p) })),
  );
  const quantity = h("input", {
    name: "quantity_litres",
    type: "number",
    inputmode: "decimal",
    min: "0",
    step: "1",
    required: true,
    value: "5000",
  });
  const unit = quantityUnit(quantity);
  const date = h("input", { name: "delivery_date", type: "date", required: true, value: isoDay(1), min: isoDay(0) });
  const start = select("window_start", halfHours(0, 23 * 60 + 30), { value: "09:00" });
  const end = select("window_end", halfHours(30, 24 * 60), { value: "12:00" });
  const note = h("textarea", { name: "note", rows: 2, maxlength: 2000 });
  const quoteBox = h("section", { class: "quote card", hidden: true, "aria-live": "polite", id: "quote" });
  const confirm = h("button", { type: "button", class: "btn btn-primary btn-block", id: "confirm" }, t("order.confirm"));
  const form = h(
    "form",
    { class: "card form", novalidate: true },
    field("order.site", site),
    field("order.product", product),
    h("div", { class: "row" }, field("order.quantity", quantity, { hint: "order.quantity_hint" }), field("order.unit", unit)),
    field("order.date", date),
    h("div", { class: "row" }, field("order.window_start", start), field("order.window_end", end)),
    field("order.note", note),
    h("button", { type: "submit", class: "btn btn-block" }, t("order.get_quote")),
    quoteBox,
  );
  main.append(form);
  await fillFromLastOrder(ctx.query.get("repeat"), { site, product, quantity, start, end, note });
  if (!ctx.isCurrent()) return;

  const keys = new IdempotencyKeys();
  let quoted = null;

  function quoteBody() {
    return { site_id: site.value, product_code: product.value, ...quantityBody(quantity, unit), delivery_date: date.value };
  }

  function orderBody() {
    const body = { ...quoteBody(), window_start: start.value, window_end: end.value };
    if (note.value.trim()) body.note = note.value.trim();
    const driver = form.querySelector("select[name=preferred_driver_id]")?.value;
    if (driver) body.preferred_driver_id = driver;
    return body;
  }


  form.addEventListener("input", (event) => {
    if (event.target.name === "preferred_driver_id") return; // a choice on the quote, not a change of it
    quoted = null;
    quoteBox.hidden = true;
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!checkRequired(form)) return;
    busy(form, async () => {
      clearErrors(form);
      try {
        const body = quoteBody();
        const quote = await api("/quotes", { method: "POST", body });
        quoted = JSON.stringify(body);
        const [drivers, windows] = await Promise.all([
          driverChoice(quote.depot.id, quote.delivery_date),
          windowsPanel(quote, {
            product: product.value,
            start,
            end,
            onUseDay: (earliest) => {
              date.value = earliest.delivery_date;
              start.value = earliest.window_start;
              end.value = earliest.window_end;
              quoted = null;
              quoteBox.hidden = true;
              form.requestSubmit();
            },
            onPickup: (slot) => {
              const query = new URLSearchParams({
                depot: slot.depot_id,
                date: slot.slot_start_at.slice(0, 10),
                slot: slot.slot_start_at,
                product: product.value,
                litres: String(quote.quantity_litres),
              });
              ctx.navigate(`pickup?${query}`);
            },
          }),
        ]);
        const extra = [windows, drivers].filter(Boolean);
        quoteBox.replaceChildren(...quotePanel(quote).filter(Boolean), ...extra, confirm);
        quoteBox.hidden = false;
        confirm.focus();
      } catch (error) {
        showError(form, error);
      }
    });
  });

  confirm.addEventListener("click", () => {
    if (quoted !== JSON.stringify(quoteBody())) return;
    busy(form, async () => {
      clearErrors(form);
      const body = orderBody();
      try {
        const order = await api("/orders", {
          method: "POST",
          body,
          headers: { "Idempotency-Key": keys.keyFor(body) },
        });
        banner(t("order.placed", { reference: order.reference }), "ok");
        ctx.navigate(`orders/${order.id}`);
      } catch (error) {
        showError(form, error);
      }
    });
  });
}
