// One customer, "what did X buy, pay and owe" in seconds: balance and credit, tier, volume and balance charts,
// sites and users; orders and pickups; invoices, payments and statements; the ledger; the audit trail. Each part
// loads on its own: a part the role may not see, or the server does not have yet, says so and the rest works.
import { api, session } from "../core/api.js";
import { loadProducts } from "../core/catalogue.js";
import { chart, epochSeconds, monthLabel, monthTick } from "../core/charts.js";
import { dateTime, day, h, isoDay, litres, money, number } from "../core/dom.js";
import { busy, clearErrors, field, showError } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { details, errorState, pageHeader, statusChip, statusText } from "../core/ui.js";
import { auditTable } from "./audit.js";
import { tonnes } from "./customers.js";
import { BASE, card, downloadButton, fill, firstItems, isoMonth, moneyInput, pagedTable, qs, readMinor } from "./kit.js";
import { invoicesTable, ledgerTable, paymentsTable, statementPanel } from "./money-ui.js";

const ORDER_STATUSES = ["placed", "on_hold", "confirmed", "scheduled", "loaded", "en_route", "delivered", "failed", "cancelled"];
const PICKUP_STATUSES = ["booked", "loading", "completed", "expired", "cancelled"];
const TABS = ["overview", "orders", "money", "ledger", "audit"];

function customerTabs(id, current) {
  return h(
    "nav",
    { class: "tabs", "aria-label": t("office.customer_parts") },
    TABS.map((tab) =>
      h("a", { href: `${BASE}/customers/${id}?tab=${tab}`, "aria-current": tab === current ? "page" : false }, t(`office.customer_tab_${tab}`)),
    ),
  );
}

// ------------------------------------------------------------------ overview

function balanceCard(id) {
  const body = h("div");
  fill(body, async () => {
    const b = await api(`/customers/${id}/balance`);
    return [
      h(
        "div",
        { class: "figures compact" },
        h("div", { class: "figure", dataset: { figure: "available" } }, h("span", { class: "figure-label" }, t("office.available")), h("span", { class: "figure-value" }, money(b.available_minor, b.currency))),
        h("div", { class: "figure" }, h("span", { class: "figure-label" }, t("office.credit_limit")), h("span", { class: "figure-value" }, money(b.credit_limit_minor, b.currency))),
        h("div", { class: "figure" }, h("span", { class: "figure-label" }, t("office.balance_owed")), h("span", { class: "figure-value" }, money(b.balance_minor, b.currency))),
      ),
      details([
        ["office.prepaid", money(b.prepaid_minor, b.currency)],
        ["office.open_orders", money(b.open_orders_minor, b.currency)],
        ["office.uninvoiced", money(b.uninvoiced_minor, b.currency)],
        ["office.unpaid_invoices", money(b.unpaid_invoices_minor, b.currency)],
        ["office.payment_code", b.payment_code],
        ["office.billing_period", t(`office.period_${b.billing_period}`)],
        ["office.payment_terms", t("office.days_n", { n: b.payment_terms_days })],
      ]),
    ];
  });
  return card(t("office.balance_and_credit"), body);
}

function creditForm(customer, ctx) {
  const limit = moneyInput("credit_limit_minor", { value: customer.credit_limit_minor });
  const form = h(
    "form",
    { class: "form inline-form", id: "credit-form", novalidate: true },
    field("office.credit_limit", limit),
    h("button", { type: "submit", class: "btn btn-primary" }, t("office.save_credit")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    busy(form, async () => {
      try {
        const body = { credit_limit_minor: readMinor(limit) };
        await api(`/customers/${customer.id}`, { method: "PATCH", body });
        banner(t("office.credit_saved", { limit: money(body.credit_limit_minor, customer.currency) }), "ok");
        ctx.navigate(`customers/${customer.id}`, { replace: true });
      } catch (error) {
        showError(form, error);
      }
    });
  });
  return form;
}

function billingForm(id, ctx) {
  const box = h("div");
  fill(box, async () => {
    const b = await api(`/customers/${id}/balance`);
    const period = h(
      "select",
      { name: "billing_period" },
      ["per_delivery", "weekly", "monthly"].map((p) => h("option", { value: p, selected: p === b.billing_period }, t(`office.period_${p}`))),
    );
    const terms = h("input", { type: "number", name: "payment_terms_days", min: "0", max: "365", step: "1", value: String(b.payment_terms_days) });
    const form = h(
      "form",
      { class: "form inline-form", id: "billing-form", novalidate: true },
      field("office.billing_period", period),
      field("office.payment_terms", terms),
      h("button", { type: "submit", class: "btn" }, t("office.save")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      clearErrors(form);
      busy(form, async () => {
        try {
          await api(`/customers/${id}/billing`, {
            method: "PATCH",
            body: { billing_period: period.value, payment_terms_days: Number.parseInt(terms.value, 10) },
          });
          banner(t("office.saved"), "ok");
          ctx.navigate(`customers/${id}`, { replace: true });
        } catch (error) {
          showError(form, error);
        }
      });
    });
    return form;
  });
  return box;
}

/** Net tonnes per month of the last twelve: delivered orders and loaded pickups, at each product's density. */
async function monthlyVolume(id) {
  const [orders, pickups, products] = await Promise.all([
    firstItems(`/orders${qs({ customer_id: id, status: "delivered" })}`),
    firstItems(`/pickups${qs({ customer_id: id, status: "completed" })}`),
    loadProducts(),
  ]);
  const density = Object.fromEntries(products.map((p) => [p.code, p.density_kg_m3]));
  const months = Array.from({ length: 12 }, (_, i) => isoMonth(11 - i));
  const tonnesBy = Object.fromEntries(months.map((m) => [m, 0]));
  const add = (month, litresNet, code) => {
    if (month in tonnesBy) tonnesBy[month] += (litresNet * (density[code] || 835)) / 1_000_000;
  };
  for (const o of orders.items) add(o.delivery_date.slice(0, 7), o.quantity_litres, o.product_code);
  for (const p of pickups.items) add(p.slot_start.slice(0, 7), p.loaded_litres_net ?? p.quantity_litres, p.product_code);
  return { months, values: months.map((m) => Math.round(tonnesBy[m] * 1000) / 1000), capped: orders.items.length < orders.total };
}

function volumeChart(id) {
  const box = h("div", { class: "chart-box", id: "volume-chart" });
  fill(box, async () => {
    const { months, values, capped } = await monthlyVolume(id);
    const figure = chart({
      title: t("office.monthly_volume"),
      kind: "bar",
      x: months,
      xLabel: (m) => monthLabel(epochSeconds(`${m}-01`)),
      tick: (m) => monthTick(epochSeconds(`${m}-01`)),
      series: [{ label: t("office.net_tonnes"), values }],
      format: (v) => `${number(v, 1)} t`,
      titleShown: false,
    });
    return [figure.element, capped ? h("p", { class: "small muted" }, t("office.latest_orders_only")) : null];
  });
  return box;
}

function balanceChart(id) {
  const box = h("div", { class: "chart-box", id: "balance-chart" });
  fill(box, async () => {
    const since = `${isoMonth(11)}-01T00:00:00+08:00`;
    const { items } = await firstItems(`/customers/${id}/ledger${qs({ from: since })}`);
    if (!items.length) return h("p", { class: "muted" }, t("office.no_entries"));
    // One point per day (the balance after the day's last entry), from the balance before the first entry of
    // the twelve months to today's.
    const byDay = new Map([[`${isoMonth(11)}-01`, (items[0].balance_minor - items[0].amount_minor) / 100]]);
    const localDay = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" });
    for (const entry of items) byDay.set(localDay.format(new Date(entry.at)), entry.balance_minor / 100);
    byDay.set(isoDay(0), items.at(-1).balance_minor / 100);
    const days = [...byDay.keys()].sort();
    const figure = chart({
      title: t("office.balance_over_time"),
      kind: "step",
      x: days.map(epochSeconds),
      xLabel: (s) => day(new Date(s * 1000).toISOString().slice(0, 10)),
      tick: monthTick,
      series: [{ label: t("office.balance"), values: days.map((d) => byDay.get(d)) }],
      format: (v) => money(Math.round(v * 100)),
      titleShown: false,
    });
    return figure.element;
  });
  return box;
}

function sitesCard(id) {
  const printer = session.role === "admin";
  const body = h("div");
  fill(body, async () => {
    const page = await api(`/sites${qs({ customer_id: id, limit: 100 })}`);
    if (!page.items.length) return h("p", { class: "muted" }, t("office.none"));
    return h(
      "div",
      { class: "table-scroll", tabindex: "0", role: "region", "aria-label": t("office.sites") },
      h(
        "table",
        { class: "data-table" },
        h("thead", {}, h("tr", {}, ["office.site_name", "office.address", "office.tank", ...(printer ? ["office.visit_code"] : [])].map((k) => h("th", { scope: "col" }, t(k))))),
        h(
          "tbody",
          {},
          page.items.map((s) =>
            h(
              "tr",
              {},
              h("td", {}, s.name),
              h("td", {}, s.address),
              h("td", { class: "num" }, litres(s.tank_capacity_litres)),
              // The signed code to print and put up at the site: account managers scan it to prove a visit.
              printer ? h("td", {}, downloadButton("office.visit_code_download", () => `/sites/${s.id}/visit-code.svg`, () => `visit-code-${s.id.slice(0, 8)}.svg`)) : null,
            ),
          ),
        ),
      ),
    );
  });
  return card(t("office.sites"), body);
}

function usersCard(id) {
  const body = h("div");
  fill(body, async () => {
    const page = await api(`/users${qs({ customer_id: id, limit: 100 })}`);
    if (!page.items.length) return h("p", { class: "muted" }, t("office.none"));
    return h(
      "ul",
      { class: "plain-list" },
      page.items.map((u) =>
        h(
          "li",
          {},
          h("a", { href: `${BASE}/users/${u.id}` }, u.username),
          u.display_name ? ` · ${u.display_name}` : "",
          u.is_active ? "" : h("span", { class: "chip chip-muted" }, t("office.inactive")),
        ),
      ),
    );
  });
  return card(t("office.users"), body);
}

async function overviewTab(main, customer, ctx) {
  const admin = session.role === "admin";
  main.append(
    h("div", { class: "columns" }, balanceCard(customer.id), card(t("office.account"), details([
      ["office.tax_id", customer.tax_id || ""],
      ["office.contact", [customer.contact_name, customer.contact_phone].filter(Boolean).join(" · ")],
      ["office.tier", String(customer.tier)],
      ["office.yearly_volume", tonnes(customer.yearly_volume_kg)],
      ["office.customer_since", day(customer.created_at.slice(0, 10))],
    ]), admin ? creditForm(customer, ctx) : null, billingForm(customer.id, ctx),
    admin ? h("p", {}, h("a", { href: `${BASE}/prices/contracts?customer=${customer.id}&name=${encodeURIComponent(customer.name)}` }, t("office.contract_prices"))) : null)),
    h(
      "div",
      { class: "columns" },
      card(t("office.monthly_volume"), volumeChart(customer.id)),
      card(t("office.balance_over_time"), balanceChart(customer.id)),
    ),
    h("div", { class: "columns" }, sitesCard(customer.id), usersCard(customer.id)),
  );
}

// ------------------------------------------------------------------ the other tabs

async function ordersTab(main, customer) {
  const orders = pagedTable({
    title: t("office.orders"),
    filters: [{ name: "status", key: "office.status", type: "select", options: ORDER_STATUSES.map((s) => ({ value: s, label: statusText(s) })) }],
    columns: [
      { key: "office.reference", cell: (o) => o.reference },
      { key: "office.delivery", cell: (o) => `${day(o.delivery_date)} ${o.window_start}–${o.window_end}` },
      { key: "office.product", cell: (o) => o.product_code },
      { key: "office.quantity", num: true, cell: (o) => litres(o.quantity_litres) },
      { key: "office.amount", num: true, cell: (o) => money(o.price.amount_minor, o.price.currency) },
      { key: "office.status", cell: (o) => [statusChip(o.status), o.hold_reason ? h("span", { class: "small muted" }, ` ${o.hold_reason}`) : null] },
    ],
    load: ({ limit, offset, filters }) => api(`/orders${qs({ ...filters, customer_id: customer.id, limit, offset })}`),
    emptyKey: "office.no_orders",
  });
  const pickups = pagedTable({
    title: t("office.pickups"),
    filters: [{ name: "status", key: "office.status", type: "select", options: PICKUP_STATUSES.map((s) => ({ value: s, label: statusText(s) })) }],
    columns: [
      { key: "office.reference", cell: (p) => p.reference },
      { key: "office.slot", cell: (p) => dateTime(p.slot_start) },
      { key: "office.product", cell: (p) => p.product_code },
      { key: "office.quantity", num: true, cell: (p) => litres(p.loaded_litres_net ?? p.quantity_litres) },
      { key: "office.vehicle", cell: (p) => p.vehicle_plate },
      { key: "office.status", cell: (p) => statusChip(p.status) },
    ],
    load: ({ limit, offset, filters }) => api(`/pickups${qs({ ...filters, customer_id: customer.id, limit, offset })}`),
    emptyKey: "office.no_pickups",
  });
  main.append(orders.element, pickups.element);
  await Promise.all([orders.reload(), pickups.reload()]);
}

async function moneyTab(main, customer) {
  const invoices = invoicesTable({ customerId: customer.id });
  const payments = paymentsTable({ customerId: customer.id });
  const record = h("p", {}, h("a", { class: "btn btn-primary", href: `${BASE}/finance/payments?customer=${customer.id}&name=${encodeURIComponent(customer.name)}` }, t("office.record_payment")));
  main.append(record, invoices.element, payments.element, statementPanel(customer.id));
  await Promise.all([invoices.reload(), payments.reload()]);
}

async function ledgerTab(main, customer) {
  const table = ledgerTable(customer.id);
  main.append(table.element);
  await table.reload();
}

async function auditTab(main, customer) {
  const table = auditTable({ fixed: { customer_id: customer.id } });
  main.append(table.element);
  await table.reload();
}

export async function customerView(main, [id], ctx) {
  setTitle("office.customer_title");
  let customer;
  try {
    customer = await api(`/customers/${id}`);
  } catch (error) {
    main.append(pageHeader("office.customer_title"), errorState(error));
    return;
  }
  if (!ctx.isCurrent()) return;
  setTitle("office.customer_of", { name: customer.name });
  const tab = TABS.includes(ctx.query.get("tab")) ? ctx.query.get("tab") : "overview";
  main.append(
    pageHeader("office.customer_of", { name: customer.name }, h("span", { class: "chip chip-info", dataset: { tier: String(customer.tier) } }, t("office.tier_n", { n: customer.tier }))),
    customerTabs(id, tab),
  );
  const draw = { overview: overviewTab, orders: ordersTab, money: moneyTab, ledger: ledgerTab, audit: auditTab }[tab];
  await draw(main, customer, ctx);
}
