// The day's orders (GET /orders?date=, staff see all) with filters by status, depot and product, and totals.
import { allPages } from "../core/api.js";
import { productName } from "../core/catalogue.js";
import { h, litres, number } from "../core/dom.js";
import { t } from "../core/i18n.js";
import { statusChip, statusText } from "../core/ui.js";

const STATUSES = ["placed", "on_hold", "confirmed", "scheduled", "loaded", "en_route", "delivered", "failed", "cancelled"];

/** Every order of a day. */
export function loadDayOrders(day) {
  return allPages(`/orders?date=${encodeURIComponent(day)}`);
}

function filterSelect(name, labelKey, options) {
  const id = `filter-${name}`;
  return {
    control: h(
      "select",
      { name, id },
      h("option", { value: "" }, t("filters.all")),
      options.map((o) => h("option", { value: o.value }, o.label)),
    ),
    label: h("label", { for: id }, t(labelKey)),
  };
}

/**
 * The panel: returns {element, show(orders, {depots, products, stopsByOrder})}; `stopsByOrder` (from the current
 * plan) adds the site's name and the tanker where the plan knows them.
 */
export function ordersPanel() {
  const filters = h("div", { class: "filters-row" });
  const totals = h("p", { class: "totals", id: "order-totals", "aria-live": "polite" });
  const body = h("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-labelledby": "orders-title" });
  const element = h(
    "section",
    { class: "card orders-panel", "aria-labelledby": "orders-title" },
    h("h2", { id: "orders-title" }, t("dispatcher.orders")),
    filters,
    totals,
    body,
  );
  let state = { orders: [], depots: [], products: [], stopsByOrder: new Map() };
  let controls = null;

  function buildFilters() {
    const status = filterSelect("status", "filters.status", STATUSES.map((s) => ({ value: s, label: statusText(s) })));
    const depot = filterSelect("depot", "filters.depot", state.depots.map((d) => ({ value: d.id, label: d.name })));
    const product = filterSelect("product", "filters.product", state.products.map((p) => ({ value: p.code, label: productName(p) })));
    controls = { status: status.control, depot: depot.control, product: product.control };
    filters.replaceChildren(
      ...[status, depot, product].map((f) => h("div", { class: "field field-inline" }, f.label, f.control)),
    );
    for (const control of Object.values(controls)) control.addEventListener("change", drawTable);
  }

  function drawTable() {
    const wanted = {
      status: controls.status.value,
      depot: controls.depot.value,
      product: controls.product.value,
    };
    const shown = state.orders.filter(
      (o) =>
        (!wanted.status || o.status === wanted.status) &&
        (!wanted.depot || o.depot_id === wanted.depot) &&
        (!wanted.product || o.product_code === wanted.product),
    );
    const sum = shown.reduce((acc, o) => acc + o.quantity_litres, 0);
    totals.replaceChildren(
      h("strong", { dataset: { count: String(shown.length) } }, t("dispatcher.orders_count", { n: number(shown.length) })),
      " · ",
      h("strong", { dataset: { litres: String(sum) } }, litres(sum)),
      shown.length !== state.orders.length ? h("span", { class: "muted" }, ` (${t("dispatcher.of_total", { n: state.orders.length })})`) : "",
    );
    if (!shown.length) {
      body.replaceChildren(h("p", { class: "muted" }, t(state.orders.length ? "dispatcher.none_match" : "dispatcher.no_orders")));
      return;
    }
    const depotName = new Map(state.depots.map((d) => [d.id, d.name]));
    const productLabel = new Map(state.products.map((p) => [p.code, productName(p)]));
    body.replaceChildren(
      h(
        "table",
        { class: "data-table orders-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["dispatcher.col_reference", "dispatcher.col_status", "dispatcher.col_site", "dispatcher.col_depot", "dispatcher.col_product", "dispatcher.col_litres", "dispatcher.col_window", "dispatcher.col_tanker"].map(
              (key) => h("th", { scope: "col" }, t(key)),
            ),
          ),
        ),
        h(
          "tbody",
          {},
          shown.map((o) => {
            const stop = state.stopsByOrder.get(o.id);
            return h(
              "tr",
              { dataset: { order: o.id, status: o.status } },
              h("td", {}, h("strong", {}, o.reference)),
              h("td", {}, statusChip(o.status)),
              h("td", {}, stop ? stop.site_name : h("span", { class: "muted" }, "—")),
              h("td", {}, depotName.get(o.depot_id) || "—"),
              h("td", {}, productLabel.get(o.product_code) || o.product_code),
              h("td", { class: "num" }, number(o.quantity_litres)),
              h("td", {}, `${o.window_start}–${o.window_end}`),
              h("td", {}, stop ? `${stop.plate} #${stop.sequence}` : h("span", { class: "muted" }, "—")),
            );
          }),
        ),
      ),
    );
  }

  return {
    element,
    show(orders, { depots, products, stopsByOrder }) {
      const first = !controls;
      state = { orders, depots, products, stopsByOrder: stopsByOrder || new Map() };
      if (first) buildFilters();
      drawTable();
    },
    setStops(stopsByOrder) {
      state.stopsByOrder = stopsByOrder;
      if (controls) drawTable();
    },
  };
}
