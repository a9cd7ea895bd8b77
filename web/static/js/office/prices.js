// Prices: the day's grid (depots × products) with what changed since the day before, published with the day it
// holds from (it holds until replaced); the history with a chart; customers' contract prices; the tier table.
import { api } from "../core/api.js";
import { chart, dayLabel, epochSeconds } from "../core/charts.js";
import { loadDepots, loadProducts, productName } from "../core/catalogue.js";
import { day, h, isoDay, number, pricePerLitre, uid } from "../core/dom.js";
import { busy, clearErrors, field, showError } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { errorState, pageHeader } from "../core/ui.js";
import {
  addDays,
  card,
  customerPicker,
  fill,
  itemOf,
  moneyInput,
  pageOf,
  pagedTable,
  perTonne,
  readMinor,
  tabs,
  toMinor,
  unavailable,
} from "./kit.js";

function priceTabs() {
  return tabs("office.prices_parts", [
    { path: "prices", key: "office.prices_today" },
    { path: "prices/history", key: "office.prices_history" },
    { path: "prices/contracts", key: "office.contract_prices" },
    { path: "prices/tiers", key: "office.tier_table" },
  ]);
}

function keyOf(depotId, code) {
  return `price:${depotId}:${code}`;
}

function byCell(prices) {
  return new Map(prices.map((p) => [keyOf(p.depot_id, p.product_code), p]));
}

/** The name the server gives the first day of a price: `valid_from` (prices hold until replaced) or `date`. */
function dayField(prices) {
  return prices.some((p) => "valid_from" in p) ? "valid_from" : "date";
}

function changeChip(now, before) {
  if (!now) return h("span", { class: "chip chip-muted" }, t("office.no_price"));
  if (!before) return h("span", { class: "chip chip-info", dataset: { change: "new" } }, t("office.price_new"));
  const delta = now.price_per_litre_minor - before.price_per_litre_minor;
  if (!delta) return h("span", { class: "chip chip-muted", dataset: { change: "0" } }, t("office.price_same"));
  const text = `${delta > 0 ? "▲ +" : "▼ −"}${pricePerLitre(Math.abs(delta), now.currency)}`;
  return h("span", { class: `chip ${delta > 0 ? "chip-warn" : "chip-ok"}`, dataset: { change: String(delta) } }, text);
}

function tonneText(minor, density, currency = "CNY") {
  const tonne = perTonne(minor, density);
  return tonne ? t("office.per_tonne", { price: pricePerLitre(tonne, currency) }) : "";
}

export async function pricesView(main, _params, ctx) {
  setTitle("office.prices_title");
  const chosen = ctx.query.get("date") || isoDay(0);
  const validFrom = h("input", { type: "date", name: "valid_from", value: chosen, required: true });
  validFrom.addEventListener("change", () => {
    if (validFrom.value) ctx.navigate(`prices?date=${validFrom.value}`, { replace: true });
  });
  main.append(pageHeader("office.prices_title"), priceTabs());
  let depots;
  let products;
  let current;
  let before;
  try {
    [depots, products, current, before] = await Promise.all([
      loadDepots(),
      loadProducts(),
      api(`/prices?date=${chosen}`),
      api(`/prices?date=${addDays(chosen, -1)}`),
    ]);
  } catch (error) {
    main.append(errorState(error, () => ctx.navigate(`prices?date=${chosen}`, { replace: true })));
    return;
  }
  if (!ctx.isCurrent()) return;
  const now = byCell(current);
  const previous = byCell(before);
  const changed = [...now.values()].filter((p) => {
    const old = previous.get(keyOf(p.depot_id, p.product_code));
    return !old || old.price_per_litre_minor !== p.price_per_litre_minor;
  });

  const inputs = [];
  const rows = depots.map((depot) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, depot.name),
      products.map((product) => {
        const key = keyOf(depot.id, product.code);
        if (!depot.products.includes(product.code)) {
          return h("td", { class: "price-cell muted" }, h("span", { "aria-label": t("office.not_stocked") }, "—"));
        }
        const inForce = now.get(key);
        const input = moneyInput(key, { value: inForce?.price_per_litre_minor, required: false });
        input.setAttribute("aria-label", `${depot.name} · ${productName(product)} (${t("office.yuan_per_litre")})`);
        input.id = uid("price");
        const errorId = `${input.id}-error`;
        input.setAttribute("aria-describedby", errorId);
        const tonne = h("span", { class: "small muted per-tonne" }, inForce ? tonneText(inForce.price_per_litre_minor, product.density_kg_m3) : "");
        input.addEventListener("input", () => {
          const minor = toMinor(input.value);
          tonne.textContent = Number.isNaN(minor) ? "" : tonneText(minor, product.density_kg_m3);
          input.closest("td").classList.toggle("edited", input.value !== (input.defaultValue || ""));
        });
        inputs.push({ input, depot, product });
        return h(
          "td",
          { class: "price-cell", dataset: { depot: depot.code, product: product.code } },
          input,
          tonne,
          changeChip(inForce, previous.get(key)),
          h("p", { class: "field-error", id: errorId, dataset: { errorFor: key } }),
        );
      }),
    ),
  );
  const submit = h("button", { type: "submit", class: "btn btn-primary", id: "publish" }, t("office.publish_prices"));
  const form = h(
    "form",
    { class: "card price-grid-form", novalidate: true },
    h("div", { class: "row-inline" }, field("office.valid_from", validFrom, { hint: "office.valid_from_hint" })),
    h(
      "p",
      { class: "price-changes", dataset: { changed: String(changed.length) } },
      t("office.changed_since", { n: number(changed.length), day: day(addDays(chosen, -1)) }),
    ),
    h(
      "div",
      { class: "table-scroll", tabindex: "0", role: "region", "aria-label": t("office.price_grid") },
      h(
        "table",
        { class: "data-table price-grid" },
        h("caption", { class: "visually-hidden" }, t("office.price_grid")),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("office.depot")), products.map((p) => h("th", { scope: "col" }, productName(p))))),
        h("tbody", {}, rows),
      ),
    ),
    h("p", { class: "hint" }, t("office.publish_hint")),
    h("div", { class: "actions" }, submit),
  );
  main.append(form);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    const dayName = dayField([...current, ...before]);
    const items = [];
    try {
      // Only the cells a person changed: the others hold anyway.
      for (const { input, depot, product } of inputs) {
        if (!input.value.trim() || input.value === input.defaultValue) continue;
        const minor = readMinor(input, { min: 1 });
        items.push({ depot_id: depot.id, product_code: product.code, [dayName]: validFrom.value, price_per_litre_minor: minor });
      }
    } catch (error) {
      showError(form, error);
      return;
    }
    if (!validFrom.value) {
      showError(form, { code: "required", field: "valid_from", status: 400, detail: "" });
      return;
    }
    if (!items.length) {
      showError(form, { code: "nothing_changed", status: 400, detail: t("errors.nothing_changed") });
      return;
    }
    busy(form, async () => {
      try {
        await api("/prices", { method: "PUT", body: items });
        banner(t("office.prices_published", { n: number(items.length), day: day(validFrom.value) }), "ok");
        ctx.navigate(`prices?date=${validFrom.value}`, { replace: true });
      } catch (error) {
        const item = itemOf(error);
        const sent = item && items[item.index];
        showError(form, sent ? { ...error, field: keyOf(sent.depot_id, sent.product_code) } : error);
      }
    });
  });
}

export async function priceHistoryView(main, _params, ctx) {
  setTitle("office.prices_history");
  main.append(pageHeader("office.prices_title"), priceTabs());
  let depots;
  let products;
  try {
    [depots, products] = await Promise.all([loadDepots(), loadProducts()]);
  } catch (error) {
    main.append(errorState(error));
    return;
  }
  const depotName = Object.fromEntries(depots.map((d) => [d.id, d.name]));
  const product = Object.fromEntries(products.map((p) => [p.code, p]));
  const table = pagedTable({
    title: t("office.prices_history"),
    query: ctx.query,
    filters: [
      { name: "depot_id", key: "office.depot", type: "select", options: depots.map((d) => ({ value: d.id, label: d.name })) },
      { name: "product_code", key: "office.product", type: "select", options: products.map((p) => ({ value: p.code, label: productName(p) })) },
    ],
    columns: [
      { key: "office.valid_from", cell: (p) => day(p.valid_from || p.date) },
      { key: "office.depot", cell: (p) => depotName[p.depot_id] || p.depot_id },
      { key: "office.product", cell: (p) => (product[p.product_code] ? productName(product[p.product_code]) : p.product_code) },
      { key: "office.price_per_litre", num: true, cell: (p) => pricePerLitre(p.price_per_litre_minor, p.currency) },
      {
        key: "office.price_per_tonne",
        num: true,
        cell: (p) => {
          const tonne = p.price_per_tonne_minor ?? perTonne(p.price_per_litre_minor, product[p.product_code]?.density_kg_m3);
          return tonne ? pricePerLitre(tonne, p.currency) : "–";
        },
      },
    ],
    load: pageOf("/prices/history"),
    onLoad: (filters) => drawChart(filters.depot_id || depots[0]?.id),
  });
  const chartBox = h("div", { class: "chart-box" });
  main.append(table.element, card(t("office.price_chart"), chartBox));
  let drawn = null;
  await table.reload();
  drawChart(depots[0]?.id); // the list may be unavailable: the chart says so too

  function drawChart(depotId) {
    if (!depotId || depotId === drawn) return;
    drawn = depotId;
    fill(chartBox, () => priceChart(depotId));
  }

  async function priceChart(depotId) {
    const page = await api(`/prices/history?depot_id=${depotId}&limit=500`);
    const points = [...page.items].reverse();
    const days = [...new Set(points.map((p) => p.valid_from || p.date))].sort();
    if (!days.length) return h("p", { class: "muted" }, t("office.none"));
    const codes = [...new Set(points.map((p) => p.product_code))];
    const series = codes.map((code) => {
      let last = null;
      const values = days.map((d) => {
        const found = points.find((p) => p.product_code === code && (p.valid_from || p.date) === d);
        if (found) last = found.price_per_litre_minor / 100;
        return last;
      });
      return { label: product[code] ? productName(product[code]) : code, values };
    });
    const figure = chart({
      title: t("office.price_chart_of", { depot: depotName[depotId] || "" }),
      kind: "step",
      x: days.map(epochSeconds),
      xLabel: dayLabel,
      series,
      format: (v) => number(v, 2),
    });
    return figure.element;
  }
}

// ------------------------------------------------------------------ contract prices

function contractRow(item, { depots, products }) {
  const kind = item.price_per_litre_minor != null ? "price" : "discount";
  const amount = item.price_per_litre_minor ?? item.discount_per_litre_minor;
  const row = h(
    "tr",
    { class: "contract-row" },
    h(
      "td",
      {},
      h(
        "select",
        { name: "product_code", "aria-label": t("office.product") },
        products.map((p) => h("option", { value: p.code, selected: p.code === item.product_code }, productName(p))),
      ),
    ),
    h(
      "td",
      {},
      h(
        "select",
        { name: "depot_id", "aria-label": t("office.depot") },
        h("option", { value: "" }, t("office.all_depots")),
        depots.map((d) => h("option", { value: d.id, selected: d.id === item.depot_id }, d.name)),
      ),
    ),
    h("td", {}, h("input", { type: "date", name: "valid_from", value: item.valid_from || isoDay(0), "aria-label": t("office.valid_from") })),
    h("td", {}, h("input", { type: "date", name: "valid_to", value: item.valid_to || "", "aria-label": t("office.valid_to") })),
    h(
      "td",
      {},
      h(
        "select",
        { name: "kind", "aria-label": t("office.contract_kind") },
        h("option", { value: "price", selected: kind === "price" }, t("office.fixed_price")),
        h("option", { value: "discount", selected: kind === "discount" }, t("office.discount_per_litre")),
      ),
    ),
    h("td", {}, moneyInput("amount", { value: amount ?? undefined })),
    h("td", {}, h("button", { type: "button", class: "btn btn-small btn-danger-outline", dataset: { remove: "1" } }, t("office.remove"))),
  );
  row.querySelector("[name=amount]").setAttribute("aria-label", t("office.yuan_per_litre"));
  row.querySelector("[data-remove]").addEventListener("click", () => row.remove());
  return row;
}

function readContractRow(row) {
  const value = (name) => row.querySelector(`[name=${name}]`).value;
  const amount = readMinor(row.querySelector("[name=amount]"), { min: 1 });
  const item = { product_code: value("product_code"), valid_from: value("valid_from") };
  if (value("depot_id")) item.depot_id = value("depot_id");
  if (value("valid_to")) item.valid_to = value("valid_to");
  item[value("kind") === "price" ? "price_per_litre_minor" : "discount_per_litre_minor"] = amount;
  return item;
}

export async function contractsView(main, _params, ctx) {
  setTitle("office.contract_prices");
  main.append(pageHeader("office.prices_title"), priceTabs());
  const customerId = ctx.query.get("customer") || "";
  const picker = customerPicker("office.customer", { value: customerId, label: ctx.query.get("name") || "" });
  picker.select.addEventListener("change", () => {
    if (picker.select.value && picker.select.value !== customerId) {
      const name = picker.select.selectedOptions[0]?.textContent || "";
      ctx.navigate(`prices/contracts?customer=${picker.select.value}&name=${encodeURIComponent(name)}`, { replace: true });
    }
  });
  const box = h("div", { class: "contracts" });
  main.append(card(t("office.contract_prices"), h("p", { class: "hint" }, t("office.contract_hint")), picker.element, box));
  if (!customerId) return;
  let depots;
  let products;
  let items;
  try {
    [depots, products, items] = await Promise.all([loadDepots(), loadProducts(), api(`/customers/${customerId}/contract-prices`)]);
  } catch (error) {
    box.replaceChildren(unavailable(error));
    return;
  }
  const body = h("tbody", {}, items.map((item) => contractRow(item, { depots, products })));
  const add = h("button", { type: "button", class: "btn btn-small", id: "add-contract" }, t("office.add_line"));
  add.addEventListener("click", () => body.append(contractRow({ product_code: products[0]?.code }, { depots, products })));
  const form = h(
    "form",
    { class: "contract-form", novalidate: true },
    h(
      "div",
      { class: "table-scroll", tabindex: "0", role: "region", "aria-label": t("office.contract_prices") },
      h(
        "table",
        { class: "data-table edit-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["office.product", "office.depot", "office.valid_from", "office.valid_to", "office.contract_kind", "office.yuan_per_litre", "office.actions"].map((k) =>
              h("th", { scope: "col" }, t(k)),
            ),
          ),
        ),
        body,
      ),
    ),
    h("div", { class: "actions" }, add, h("button", { type: "submit", class: "btn btn-primary" }, t("office.save"))),
  );
  box.replaceChildren(form);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    const rows = [...body.querySelectorAll("tr")];
    let lines;
    try {
      lines = rows.map(readContractRow);
    } catch (error) {
      markRow(form, rows.find((r) => r.querySelector("[aria-invalid]")) || null, error);
      return;
    }
    busy(form, async () => {
      try {
        await api(`/customers/${customerId}/contract-prices`, { method: "PUT", body: lines });
        banner(t("office.saved"), "ok");
        ctx.navigate(`prices/contracts?customer=${customerId}`, { replace: true });
      } catch (error) {
        const item = itemOf(error);
        markRow(form, item ? rows[item.index] : null, error);
      }
    });
  });
}

/** A refusal about one line of an editable table: the line is marked and the words go above the table. */
function markRow(form, row, error) {
  showError(form, { ...error, field: null });
  if (row) {
    row.classList.add("row-invalid");
    const control = row.querySelector(`[name="${itemOf(error)?.field || error.field}"]`) || row.querySelector("input, select");
    control?.setAttribute("aria-invalid", "true");
    control?.focus();
  }
}

// ------------------------------------------------------------------ tiers

function tierRow(band) {
  const from = h("input", { type: "number", name: "from_tonnes", min: "0", step: "1", value: band.from_tonnes ?? "", "aria-label": t("office.from_tonnes") });
  const discount = h("input", {
    name: "discount_percent",
    inputmode: "decimal",
    value: band.discount_bps != null ? String(band.discount_bps / 100) : "",
    "aria-label": t("office.discount_percent"),
  });
  const row = h(
    "tr",
    { class: "tier-row" },
    h("td", {}, from),
    h("td", { class: "muted" }, band.to_tonnes != null ? number(band.to_tonnes) : band.tier != null ? "∞" : ""),
    h("td", {}, discount),
    h("td", {}, h("button", { type: "button", class: "btn btn-small btn-danger-outline" }, t("office.remove"))),
  );
  row.querySelector("button").addEventListener("click", () => row.remove());
  return row;
}

function readTier(row) {
  const from = row.querySelector("[name=from_tonnes]");
  const discount = row.querySelector("[name=discount_percent]");
  const tonnes = Number.parseInt(from.value, 10);
  if (!(tonnes >= 0)) throw Object.assign(new Error(), { code: "invalid_number", field: "from_tonnes", status: 400, detail: t("errors.invalid_number") });
  const bps = Math.round(Number.parseFloat(discount.value) * 100);
  if (!(bps >= 0 && bps <= 10000)) {
    throw Object.assign(new Error(), { code: "invalid_percent", field: "discount_percent", status: 400, detail: t("errors.invalid_percent") });
  }
  return { from_tonnes: tonnes, discount_bps: bps };
}

export async function tiersView(main) {
  setTitle("office.tier_table");
  main.append(pageHeader("office.prices_title"), priceTabs());
  const box = h("div");
  main.append(card(t("office.tier_table"), h("p", { class: "hint" }, t("office.tier_hint")), box));
  let bands;
  try {
    bands = await api("/settings/tiers");
  } catch (error) {
    box.replaceChildren(unavailable(error));
    return;
  }
  const body = h("tbody", {}, bands.map(tierRow));
  const add = h("button", { type: "button", class: "btn btn-small" }, t("office.add_band"));
  add.addEventListener("click", () => body.append(tierRow({})));
  const form = h(
    "form",
    { novalidate: true },
    h(
      "table",
      { class: "data-table edit-table tier-table" },
      h("thead", {}, h("tr", {}, ["office.from_tonnes", "office.to_tonnes", "office.discount_percent", "office.actions"].map((k) => h("th", { scope: "col" }, t(k))))),
      body,
    ),
    h("div", { class: "actions" }, add, h("button", { type: "submit", class: "btn btn-primary" }, t("office.save"))),
  );
  box.replaceChildren(form);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    const rows = [...body.querySelectorAll("tr")];
    let table;
    try {
      table = rows.map(readTier);
    } catch (error) {
      markRow(form, rows.find((r) => { try { readTier(r); return false; } catch { return true; } }), error);
      return;
    }
    busy(form, async () => {
      try {
        const saved = await api("/settings/tiers", { method: "PUT", body: table });
        body.replaceChildren(...saved.map(tierRow));
        banner(t("office.saved"), "ok");
      } catch (error) {
        const item = itemOf(error);
        markRow(form, item ? rows[item.index] : null, error);
      }
    });
  });
}
