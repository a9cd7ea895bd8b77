// Customer insight for account managers, drawn with the chart helper (core/charts.js): customers by tier band with
// their trend, the top 10 and who is due a visit, the dormant-customer radar; sales and delivery reports; visits.
// Built against the API contract (GET /analytics/customers, /analytics/sales, /analytics/deliveries, /visits):
// until the server has them, each part says it is not available.
import { api, session } from "../core/api.js";
import { chart, epochSeconds, dayLabel } from "../core/charts.js";
import { dateTime, day, h, isoDay, money, number } from "../core/dom.js";
import { has, t } from "../core/i18n.js";
import { setTitle } from "../core/shell.js";
import { pageHeader } from "../core/ui.js";
import { addDays, card, customerLink, downloadButton, fill, firstItems, pagedTable, qs, tabs } from "./kit.js";

export const BANDS = ["<20t", "20-50t", "50-100t", "100-500t", ">500t"];

function insightTabs() {
  return tabs("office.insight_parts", [
    { path: "insight", key: "office.insight_customers" },
    { path: "insight/sales", key: "office.insight_sales" },
    { path: "insight/deliveries", key: "office.insight_deliveries" },
    { path: "insight/visits", key: "office.insight_visits" },
  ]);
}

/** The list in an answer, whatever its envelope (a page, `rows`, or a plain array). */
export function rowsOf(answer) {
  if (Array.isArray(answer)) return answer;
  return answer?.items || answer?.rows || [];
}

const first = (item, ...names) => names.map((n) => item?.[n]).find((v) => v !== undefined && v !== null);

/** One customer of GET /analytics/customers, in the names this page uses. */
export function customerFigures(item) {
  const trend = item.trend || {};
  return {
    id: first(item, "customer_id", "id"),
    name: first(item, "customer_name", "name") || "",
    band: first(item, "tier_band", "band") || "",
    tonnes: Number(first(item, "net_tonnes_365d", "net_tonnes", "tonnes") ?? 0),
    thisQuarter: Number(first(trend, "this_quarter_tonnes", "this_quarter") ?? 0),
    lastYear: Number(first(trend, "same_quarter_last_year_tonnes", "same_quarter_last_year", "last_year") ?? 0),
    lastOrder: first(item, "last_order_at", "last_order"),
    interval: first(item, "usual_interval_days", "usual_interval"),
    lastVisit: first(item, "last_visit_at", "last_visit"),
    visitDue: Boolean(first(item, "visit_due", "due_visit")),
    dormant: item.dormant || null,
  };
}

function reasonText(reason) {
  return has(`office.reason_${reason}`) ? t(`office.reason_${reason}`) : String(reason).replaceAll("_", " ");
}

function bandCharts(customers) {
  const count = BANDS.map((b) => customers.filter((c) => c.band === b).length);
  const thisQuarter = BANDS.map((b) => customers.filter((c) => c.band === b).reduce((s, c) => s + c.thisQuarter, 0));
  const lastYear = BANDS.map((b) => customers.filter((c) => c.band === b).reduce((s, c) => s + c.lastYear, 0));
  const label = (b) => t("office.band", { band: b });
  return h(
    "div",
    { class: "columns" },
    chart({ title: t("office.customers_by_band"), kind: "bar", x: BANDS, xLabel: label, series: [{ label: t("office.customers_count"), values: count }], format: (v) => number(v), integers: true }).element,
    chart({
      title: t("office.trend_by_band"),
      kind: "bar",
      x: BANDS,
      xLabel: label,
      series: [
        { label: t("office.this_quarter"), values: thisQuarter },
        { label: t("office.same_quarter_last_year"), values: lastYear },
      ],
      format: (v) => `${number(v, 1)} t`,
    }).element,
  );
}

function topTen(customers) {
  const top = [...customers].sort((a, b) => b.tonnes - a.tonnes).slice(0, 10);
  return h(
    "table",
    { class: "data-table top-ten" },
    h("caption", { class: "visually-hidden" }, t("office.top_ten")),
    h("thead", {}, h("tr", {}, ["office.customer", "office.band_short", "office.net_tonnes", "office.last_visit", "office.visit_due"].map((k) => h("th", { scope: "col" }, t(k))))),
    h(
      "tbody",
      {},
      top.map((c) =>
        h(
          "tr",
          {},
          h("td", {}, c.id ? customerLink(c.id) : c.name),
          h("td", {}, c.band),
          h("td", { class: "num" }, number(c.tonnes, 1)),
          h("td", {}, c.lastVisit ? dateTime(c.lastVisit) : t("office.never")),
          h("td", {}, c.visitDue ? h("span", { class: "chip chip-warn" }, t("office.due")) : ""),
        ),
      ),
    ),
  );
}

export async function insightView(main, _params, ctx) {
  setTitle("office.insight_title");
  main.append(pageHeader("office.insight_title"), insightTabs());
  const managerId = ctx.query.get("manager_id") || (session.role === "admin" || session.role === "finance" ? "" : "me");
  const params = { manager_id: managerId === "me" ? undefined : managerId, tier: ctx.query.get("tier") || undefined };
  const overview = h("div", { class: "insight-overview" });
  main.append(overview);
  fill(overview, async () => {
    const { items } = await firstItems(`/analytics/customers${qs(params)}`, 5000);
    const customers = items.map(customerFigures);
    return [bandCharts(customers), card(t("office.top_ten"), topTen(customers))];
  });
  const radar = pagedTable({
    title: t("office.dormant_radar"),
    query: ctx.query,
    filters: [{ name: "tier", key: "office.band_short", type: "select", options: BANDS.map((b) => ({ value: b, label: t("office.band", { band: b }) })) }],
    columns: [
      { key: "office.customer", cell: (item) => { const c = customerFigures(item); return c.id ? customerLink(c.id) : c.name; } },
      { key: "office.quiet_since", cell: (item) => (item.dormant?.since ? day(String(item.dormant.since).slice(0, 10)) : "") },
      { key: "office.usual_interval", num: true, cell: (item) => { const c = customerFigures(item); return c.interval != null ? t("office.days_n", { n: number(c.interval, 1) }) : ""; } },
      { key: "office.likely_reasons", cell: (item) => h("ul", { class: "reasons" }, (item.dormant?.reasons || []).map((r) => h("li", {}, reasonText(r)))) },
      { key: "office.after_contact", cell: (item) => (item.dormant?.outcome ? reasonText(item.dormant.outcome) : "") },
    ],
    load: ({ limit, offset, filters }) => api(`/analytics/customers${qs({ ...params, ...filters, dormant: "true", limit, offset })}`),
    emptyKey: "office.no_quiet_customers",
  });
  main.append(radar.element);
  await radar.reload();
}

// ------------------------------------------------------------------ reports

const MEASURES = [
  ["net_tonnes", (v) => `${number(v, 1)} t`],
  ["tonnes", (v) => `${number(v, 1)} t`],
  ["litres", (v) => `${number(v)} L`],
  ["amount_minor", (v) => money(v)],
];

function reportFilters(ctx, extra = []) {
  const from = h("input", { type: "date", name: "from", value: ctx.query.get("from") || addDays(isoDay(0), -90), id: "report-from" });
  const to = h("input", { type: "date", name: "to", value: ctx.query.get("to") || isoDay(0), id: "report-to" });
  const form = h(
    "form",
    { class: "card filters-row report-filters", novalidate: true },
    extra.map(([control, key]) => h("div", { class: "field field-inline" }, h("label", { for: control.id }, t(key)), control)),
    h("div", { class: "field field-inline" }, h("label", { for: from.id }, t("office.from")), from),
    h("div", { class: "field field-inline" }, h("label", { for: to.id }, t("office.to")), to),
    h("button", { type: "submit", class: "btn btn-small" }, t("office.show")),
  );
  return { form, from, to };
}

function choice(name, values, current, label) {
  return h("select", { name, id: `report-${name}` }, values.map((v) => h("option", { value: v, selected: v === current }, label(v))));
}

export async function salesView(main, _params, ctx) {
  setTitle("office.insight_sales");
  main.append(pageHeader("office.insight_title"), insightTabs());
  const groupBy = choice("group_by", ["customer", "depot", "product", "manager"], ctx.query.get("group_by") || "product", (v) => t(`office.group_${v}`));
  const period = choice("period", ["day", "week", "month"], ctx.query.get("period") || "week", (v) => t(`office.period_name_${v}`));
  const { form, from, to } = reportFilters(ctx, [
    [groupBy, "office.group_by"],
    [period, "office.period_name"],
  ]);
  const params = () => ({ group_by: groupBy.value, period: period.value, from: from.value, to: to.value });
  const name = (ext) => () => `sales-${groupBy.value}-${period.value}-${from.value}-${to.value}.${ext}`;
  form.append(
    downloadButton("office.export_csv", () => `/analytics/sales.csv${qs(params())}`, name("csv")),
    downloadButton("office.export_xlsx", () => `/analytics/sales.xlsx${qs(params())}`, name("xlsx")),
  );
  const body = h("div", { class: "report" });
  main.append(form, body);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.navigate(`insight/sales${qs(params())}`, { replace: true });
  });
  await fill(body, async () => {
    const rows = rowsOf(await api(`/analytics/sales${qs(params())}`));
    if (!rows.length) return h("p", { class: "muted" }, t("office.none"));
    const [measure, format] = MEASURES.find(([m]) => rows.some((r) => r[m] != null)) || MEASURES[0];
    const periodOf = (r) => String(first(r, "period_start", "period", "bucket") || "").slice(0, 10);
    const groupOf = (r) => String(first(r, "label", "name", "group", "key") ?? "");
    const periods = [...new Set(rows.map(periodOf))].sort();
    const groups = [...new Set(rows.map(groupOf))].slice(0, 6);
    const series = groups.map((g) => ({ label: g, values: periods.map((p) => rows.filter((r) => groupOf(r) === g && periodOf(r) === p).reduce((s, r) => s + Number(r[measure] || 0), 0)) }));
    return [
      card(
        t("office.insight_sales"),
        chart({ title: t("office.sales_chart", { measure: t(`office.measure_${measure}`) }), kind: "line", x: periods.map(epochSeconds), xLabel: dayLabel, series, format }).element,
      ),
      card(
        t("office.figures"),
        h(
          "div",
          { class: "table-scroll", tabindex: "0", role: "region", "aria-label": t("office.figures") },
          h(
            "table",
            { class: "data-table" },
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("office.period_name")), h("th", { scope: "col" }, t(`office.group_${groupBy.value}`)), h("th", { scope: "col", class: "num" }, t(`office.measure_${measure}`)))),
            h("tbody", {}, rows.map((r) => h("tr", {}, h("td", {}, periodOf(r)), h("td", {}, groupOf(r)), h("td", { class: "num" }, format(Number(r[measure] || 0)))))),
          ),
        ),
      ),
    ];
  });
}

export async function deliveriesView(main, _params, ctx) {
  setTitle("office.insight_deliveries");
  main.append(pageHeader("office.insight_title"), insightTabs());
  const { form, from, to } = reportFilters(ctx);
  const body = h("div", { class: "report" });
  main.append(form, body);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.navigate(`insight/deliveries${qs({ from: from.value, to: to.value })}`, { replace: true });
  });
  await fill(body, async () => {
    const answer = await api(`/analytics/deliveries${qs({ from: from.value, to: to.value })}`);
    const share = Number(first(answer, "on_time_share", "on_time") ?? 0);
    const buckets = rowsOf(first(answer, "lateness", "lateness_distribution", "distribution") || []);
    const label = (b) => String(first(b, "label", "bucket", "range") ?? "");
    return [
      h(
        "div",
        { class: "figures" },
        h("div", { class: "card figure", dataset: { figure: "on_time" } }, h("span", { class: "figure-label" }, t("office.on_time_share")), h("span", { class: "figure-value" }, `${number(share * 100, 1)} %`)),
        h("div", { class: "card figure" }, h("span", { class: "figure-label" }, t("office.deliveries_count")), h("span", { class: "figure-value" }, number(Number(first(answer, "deliveries", "total", "count") ?? 0)))),
      ),
      buckets.length
        ? card(
            t("office.lateness"),
            chart({ title: t("office.lateness"), kind: "bar", x: buckets.map(label), xLabel: (x) => x, series: [{ label: t("office.deliveries_count"), values: buckets.map((b) => Number(first(b, "count", "deliveries") ?? 0)) }], format: (v) => number(v), integers: true }).element,
          )
        : null,
    ];
  });
}

export async function visitsView(main, _params, ctx) {
  setTitle("office.insight_visits");
  main.append(pageHeader("office.insight_title"), insightTabs());
  const table = pagedTable({
    title: t("office.insight_visits"),
    query: ctx.query,
    filters: [
      { name: "from", key: "office.from", type: "date" },
      { name: "to", key: "office.to", type: "date" },
    ],
    columns: [
      { key: "office.when", cell: (v) => (first(v, "at", "visited_at") ? dateTime(first(v, "at", "visited_at")) : "") },
      { key: "office.customer", cell: (v) => (v.customer_id ? customerLink(v.customer_id) : "") },
      { key: "office.site_name", cell: (v) => first(v, "site_name", "site") || "" },
      { key: "office.manager", cell: (v) => first(v, "manager_name", "manager_username", "manager_id") || "" },
      { key: "office.note", cell: (v) => v.note || "" },
    ],
    load: ({ limit, offset, filters }) => api(`/visits${qs({ ...filters, limit, offset })}`),
    emptyKey: "office.no_visits",
  });
  main.append(table.element);
  await table.reload();
}
