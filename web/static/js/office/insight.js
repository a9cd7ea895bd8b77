// Customer insight for account managers, drawn with the chart helper (core/charts.js): customers by tier band with
// their trend, the top 10 and who is due a visit, the dormant-customer radar; sales and delivery reports; visits.
// From GET /analytics/customers, /analytics/managers/{id}/dashboard, /analytics/sales, /analytics/deliveries and
// /visits; a part the role may not see says so.
import { api, session } from "../core/api.js";
import { chart, epochSeconds, dayLabel } from "../core/charts.js";
import { dateTime, dayAt, h, isoDay, money, number } from "../core/dom.js";
import { has, t } from "../core/i18n.js";
import { setTitle } from "../core/shell.js";
import { pageHeader } from "../core/ui.js";
import { BASE, addDays, card, customerLink, downloadButton, fill, firstItems, pagedTable, qs, tabs } from "./kit.js";
import { outcomeChip } from "./visits.js";

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

/** One customer of GET /analytics/customers (or of a dashboard's `top`), in the names this page uses. */
export function customerFigures(item) {
  const trend = item.trend || {};
  return {
    id: item.customer_id,
    name: item.name || "",
    band: item.band || "",
    tonnes: Number(item.net_tonnes ?? 0),
    thisQuarter: Number(trend.this_quarter_t ?? 0),
    lastYear: Number(trend.last_year_t ?? 0),
    lastOrder: item.last_order_at,
    interval: item.usual_interval_days,
    lastVisit: item.last_visit_at,
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

/** The 10 largest customers; with a manager's dashboard, when each was last visited and who is due a visit. */
function topTen(customers, board) {
  const top = board ? board.top.map(customerFigures) : [...customers].sort((a, b) => b.tonnes - a.tonnes).slice(0, 10);
  const due = new Set((board?.due_visits || []).map((d) => d.customer_id));
  const heads = ["office.customer", "office.band_short", "office.net_tonnes", ...(board ? ["office.last_visit", "office.visit_due"] : [])];
  return h(
    "table",
    { class: "data-table top-ten" },
    h("caption", { class: "visually-hidden" }, t("office.top_ten")),
    h("thead", {}, h("tr", {}, heads.map((k) => h("th", { scope: "col" }, t(k))))),
    h(
      "tbody",
      {},
      top.map((c) =>
        h(
          "tr",
          {},
          h("td", {}, c.id ? customerLink(c.id, c.name) : c.name),
          h("td", {}, c.band),
          h("td", { class: "num" }, number(c.tonnes, 1)),
          board ? h("td", {}, c.lastVisit ? dateTime(c.lastVisit) : t("office.never")) : null,
          board ? h("td", {}, due.has(c.id) ? h("span", { class: "chip chip-warn" }, t("office.due")) : "") : null,
        ),
      ),
    ),
  );
}

let me = null;
/** Who is looking: GET /me once per page load. */
async function viewer() {
  me ||= api("/me").then((answer) => answer.user || {});
  return me;
}

function figureBox(name, labelKey, value) {
  return h("div", { class: "card figure", dataset: { figure: name } }, h("span", { class: "figure-label" }, t(labelKey)), h("span", { class: "figure-value" }, value));
}

/** A manager's figures: its customers, the quiet ones, and how many quiet customers its visits won back. */
function boardFigures(board) {
  const r = board.reactivation;
  return h(
    "div",
    { class: "figures manager-figures" },
    figureBox("customers", "office.my_customers", number(board.customers)),
    figureBox("quiet", "office.quiet_customers", number(board.dormant)),
    figureBox("quiet_visited", "office.quiet_visited", number(r.dormant_visited)),
    figureBox("won_back", "office.won_back", number(r.won_back)),
    figureBox("pending", "office.won_back_pending", number(r.pending)),
    figureBox("rate", "office.reactivation_rate", r.rate == null ? "–" : `${number(r.rate * 100, 1)} %`),
  );
}

export async function insightView(main, _params, ctx) {
  setTitle("office.insight_title");
  const everyone = session.role === "admin" || session.role === "finance";
  const user = await viewer().catch(() => ({}));
  if (!ctx.isCurrent()) return;
  const manager = !everyone && user.manager;
  const action = manager ? h("a", { class: "btn", href: `${BASE}/insight/visits/new`, id: "record-visit" }, t("office.record_visit")) : null;
  main.append(pageHeader("office.insight_title", {}, action), insightTabs());
  // An account manager sees its own customers (the API keeps to them); admin and finance everyone, or one manager's.
  const managerId = ctx.query.get("manager_id") || (manager ? user.id : "");
  const params = { manager_id: everyone ? managerId || undefined : undefined, tier: ctx.query.get("tier") || undefined };
  const overview = h("div", { class: "insight-overview" });
  main.append(overview);
  fill(overview, async () => {
    const [{ items }, board] = await Promise.all([
      firstItems(`/analytics/customers${qs(params)}`, 5000),
      managerId ? api(`/analytics/managers/${managerId}/dashboard`) : null,
    ]);
    const customers = items.map(customerFigures);
    return [board ? boardFigures(board) : null, bandCharts(customers), card(t("office.top_ten"), h("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": t("office.top_ten") }, topTen(customers, board)))];
  });
  const radar = pagedTable({
    title: t("office.dormant_radar"),
    query: ctx.query,
    filters: [{ name: "tier", key: "office.band_short", type: "select", options: BANDS.map((b) => ({ value: b, label: t("office.band", { band: b }) })) }],
    columns: [
      { key: "office.customer", cell: (item) => { const c = customerFigures(item); return c.id ? customerLink(c.id, c.name) : c.name; } },
      { key: "office.quiet_since", cell: (item) => (item.dormant?.since ? dayAt(item.dormant.since) : "") },
      { key: "office.usual_interval", num: true, cell: (item) => { const c = customerFigures(item); return c.interval != null ? t("office.days_n", { n: number(c.interval, 1) }) : ""; } },
      { key: "office.likely_reasons", cell: (item) => h("ul", { class: "reasons" }, (item.dormant?.reasons || []).map((r) => h("li", { dataset: { reason: r } }, reasonText(r)))) },
    ],
    rowClass: () => "quiet-customer",
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
    const summary = answer.summary || { deliveries: 0, on_time: 0, on_time_share: null, lateness: {} };
    const share = summary.on_time_share;
    // The lateness buckets in the API's order: on time, <=15m, 15-30m, 30-60m, 1-2h, >2h.
    const buckets = Object.entries(summary.lateness || {}).map(([bucket, count]) => ({ bucket, count }));
    const label = (b) => (has(`office.lateness_${b.bucket}`) ? t(`office.lateness_${b.bucket}`) : b.bucket);
    return [
      h(
        "div",
        { class: "figures" },
        h("div", { class: "card figure", dataset: { figure: "on_time" } }, h("span", { class: "figure-label" }, t("office.on_time_share")), h("span", { class: "figure-value" }, share == null ? "–" : `${number(share * 100, 1)} %`)),
        h("div", { class: "card figure", dataset: { figure: "deliveries" } }, h("span", { class: "figure-label" }, t("office.deliveries_count")), h("span", { class: "figure-value" }, number(summary.deliveries))),
      ),
      summary.deliveries
        ? card(
            t("office.lateness"),
            chart({ title: t("office.lateness"), kind: "bar", x: buckets.map(label), xLabel: (x) => x, series: [{ label: t("office.deliveries_count"), values: buckets.map((b) => b.count) }], format: (v) => number(v), integers: true }).element,
          )
        : null,
    ];
  });
}

export async function visitsView(main, _params, ctx) {
  setTitle("office.insight_visits");
  const user = await viewer().catch(() => ({}));
  if (!ctx.isCurrent()) return;
  const everyone = session.role === "admin" || session.role === "finance";
  const action = user.manager ? h("a", { class: "btn", href: `${BASE}/insight/visits/new`, id: "record-visit" }, t("office.record_visit")) : null;
  main.append(pageHeader("office.insight_title", {}, action), insightTabs());
  const table = pagedTable({
    title: t("office.insight_visits"),
    query: ctx.query,
    filters: [
      { name: "from", key: "office.from", type: "date" },
      { name: "to", key: "office.to", type: "date" },
    ],
    columns: [
      { key: "office.when", cell: (v) => dateTime(v.at) },
      { key: "office.customer", cell: (v) => customerLink(v.customer_id, v.customer_name) },
      { key: "office.site_name", cell: (v) => v.site_name },
      everyone ? { key: "office.manager", cell: (v) => v.manager_name } : null,
      { key: "office.quiet_since", cell: (v) => (v.dormant_since ? dayAt(v.dormant_since) : "") },
      { key: "office.outcome", cell: (v) => outcomeChip(v.outcome) },
      { key: "office.note", cell: (v) => v.note || "" },
    ].filter(Boolean),
    rowClass: (v) => `visit${v.outcome ? ` visit-${v.outcome}` : ""}`,
    load: ({ limit, offset, filters }) => api(`/visits${qs({ ...filters, limit, offset })}`),
    emptyKey: "office.no_visits",
  });
  main.append(table.element);
  await table.reload();
}

