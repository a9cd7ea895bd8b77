// Standing orders: a weekly schedule of deliveries to a site (GET/POST /standing-orders). The list shows each one's
// next occurrence and its latest runs (the order placed, or the refusal in words); one standing order has its own
// page (/app/customer/standing-orders/{id}, the link of a refusal's notification), where it can be stopped.
import { allPages, api } from "../core/api.js";
import { loadProducts, productLabel, productName } from "../core/catalogue.js";
import { dateTime, day, h, isoDay, litres } from "../core/dom.js";
import { IdempotencyKeys, busy, checkRequired, clearErrors, errorText, field, select, showError } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { details, emptyState, errorState, pageHeader } from "../core/ui.js";
import { can } from "./roles.js";

const BASE = "/app/customer";
const DAYS = [1, 2, 3, 4, 5, 6, 7];
const RECENT_RUNS = 3;
const LOOK_AHEAD_DAYS = 400; // a schedule on one weekday finds its next day within a week; this bounds the search

function halfHours(from, to) {
  const out = [];
  for (let m = from; m <= to; m += 30) {
    const value = `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
    out.push({ value, label: value });
  }
  return out;
}

function isoWeekday(isoDate) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d)).getUTCDay() || 7;
}

function addDays(isoDate, n) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

export function weekdaysText(weekdays) {
  const sorted = [...weekdays].sort((a, b) => a - b);
  if (sorted.length === 7) return t("weekday.all");
  return sorted.map((d) => t(`weekday.${d}`)).join(" ");
}

/** The next delivery day not yet run (today or later in the site's time zone), or null when the schedule is over. */
export function nextOccurrence(standing, runs = [], timeZone = "Asia/Shanghai") {
  if (standing.status !== "active") return null;
  const done = new Set(runs.map((r) => r.delivery_date));
  let dayIso = isoDay(0, timeZone);
  if (standing.starts_on > dayIso) dayIso = standing.starts_on;
  for (let i = 0; i < LOOK_AHEAD_DAYS; i += 1, dayIso = addDays(dayIso, 1)) {
    if (standing.ends_on && dayIso > standing.ends_on) return null;
    if (standing.weekdays.includes(isoWeekday(dayIso)) && !done.has(dayIso)) return dayIso;
  }
  return null;
}

function runRow(run) {
  if (run.order_id) {
    return h(
      "li",
      { class: "list-item run", dataset: { date: run.delivery_date, outcome: "placed" } },
      h(
        "a",
        { href: `${BASE}/orders/${run.order_id}`, class: "list-link" },
        h("span", { class: "list-main" }, h("strong", {}, day(run.delivery_date)), h("span", { class: "chip chip-ok" }, t("standing.run_placed"))),
        h("span", { class: "list-sub muted" }, t("standing.run_at", { at: dateTime(run.at) })),
      ),
    );
  }
  const reason = errorText({ code: run.code, detail: run.detail || "", status: 422 });
  return h(
    "li",
    { class: "list-item run", dataset: { date: run.delivery_date, outcome: "refused", code: run.code || "" } },
    h("span", { class: "list-main" }, h("strong", {}, day(run.delivery_date)), h("span", { class: "chip chip-bad" }, t("standing.run_refused"))),
    h("span", { class: "list-sub run-reason" }, reason),
  );
}

function runsList(runs, limit) {
  if (!runs.length) return h("p", { class: "muted" }, t("standing.no_runs"));
  return h("ul", { class: "list runs" }, runs.slice(0, limit).map(runRow));
}

function statusChip(standing) {
  const tone = standing.status === "active" ? "info" : "muted";
  return h("span", { class: `chip chip-${tone}`, dataset: { status: standing.status } }, t(`standing.status_${standing.status}`));
}

function scheduleText(standing) {
  return `${weekdaysText(standing.weekdays)} · ${standing.window_start}–${standing.window_end}`;
}

function periodText(standing) {
  return standing.ends_on
    ? t("standing.period_until", { from: day(standing.starts_on), to: day(standing.ends_on) })
    : t("standing.period_from", { from: day(standing.starts_on) });
}

async function standingCard(standing, site) {
  const runs = standing.runs || [];
  const next = nextOccurrence(standing, runs, site?.timezone);
  return h(
    "li",
    { class: "list-item standing", dataset: { standing: standing.id } },
    h(
      "a",
      { href: `${BASE}/standing-orders/${standing.id}`, class: "list-link" },
      h("span", { class: "list-main" }, h("strong", {}, site?.name || ""), statusChip(standing)),
      h("span", { class: "list-sub" }, `${await productLabel(standing.product_code)} · ${litres(standing.quantity_litres)}`),
      h("span", { class: "list-sub" }, scheduleText(standing)),
      h("span", { class: "list-sub muted next" }, next ? t("standing.next", { day: day(next) }) : t("standing.no_next")),
    ),
    runs.length ? runsList(runs, RECENT_RUNS) : null,
  );
}

function weekdayPicker() {
  const error = h("p", { class: "field-error", id: "weekdays-error", dataset: { errorFor: "weekdays" } });
  const boxes = DAYS.map((d) =>
    h(
      "label",
      { class: "weekday" },
      h("input", { type: "checkbox", name: "weekdays", value: String(d), checked: d <= 5 }),
      h("span", {}, t(`weekday.${d}`)),
    ),
  );
  const set = h(
    "fieldset",
    { class: "field", "aria-describedby": "weekdays-error" },
    h("legend", {}, t("standing.weekdays")),
    h("div", { class: "weekdays" }, boxes),
    error,
  );
  return set;
}

function createForm(sites, products, onMade) {
  const site = select("site_id", sites.map((s) => ({ value: s.id, label: s.name })));
  const product = select("product_code", products.map((p) => ({ value: p.code, label: productName(p) })));
  const quantity = h("input", { name: "quantity_litres", type: "number", inputmode: "numeric", min: "1", step: "1", required: true, value: "5000" });
  const start = select("window_start", halfHours(0, 23 * 60 + 30), { value: "09:00" });
  const end = select("window_end", halfHours(30, 24 * 60), { value: "12:00" });
  const startsOn = h("input", { name: "starts_on", type: "date", required: true, min: isoDay(0), value: isoDay(1) });
  const endsOn = h("input", { name: "ends_on", type: "date", min: isoDay(0) });
  const form = h(
    "form",
    { class: "card form", novalidate: true, id: "standing-form" },
    h("h2", {}, t("standing.new")),
    field("order.site", site),
    field("order.product", product),
    field("standing.quantity", quantity),
    weekdayPicker(),
    h("div", { class: "row" }, field("order.window_start", start), field("order.window_end", end)),
    h("div", { class: "row" }, field("standing.starts_on", startsOn), field("standing.ends_on", endsOn, { hint: "standing.ends_on_hint" })),
    h("p", { class: "hint" }, t("standing.how")),
    h("button", { type: "submit", class: "btn btn-primary btn-block" }, t("standing.create")),
  );
  const keys = new IdempotencyKeys();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!checkRequired(form)) return;
    busy(form, async () => {
      clearErrors(form);
      const weekdays = [...form.querySelectorAll("input[name=weekdays]:checked")].map((b) => Number(b.value));
      const body = {
        site_id: site.value,
        product_code: product.value,
        quantity_litres: Math.round(Number(quantity.value) || 0),
        weekdays,
        window_start: start.value,
        window_end: end.value,
        starts_on: startsOn.value,
      };
      if (endsOn.value) body.ends_on = endsOn.value;
      if (!weekdays.length) {
        showError(form, { code: "invalid_weekdays", field: "weekdays", status: 400, detail: "" });
        return;
      }
      try {
        const made = await api("/standing-orders", { method: "POST", body, headers: { "Idempotency-Key": keys.keyFor(body) } });
        banner(t("standing.made"), "ok");
        await onMade(made);
      } catch (error) {
        showError(form, error);
      }
    });
  });
  return form;
}

function stopControl(standing, onStopped) {
  const box = h("div", { class: "cancel" });
  const ask = h("button", { type: "button", class: "btn btn-danger-outline", id: "stop-standing" }, t("standing.stop"));
  ask.addEventListener("click", () => {
    const yes = h("button", { type: "button", class: "btn btn-danger", id: "stop-standing-yes" }, t("standing.stop_yes"));
    const no = h("button", { type: "button", class: "btn" }, t("order.cancel_no"));
    const note = h("p", { class: "field-error", role: "alert" });
    no.addEventListener("click", () => box.replaceChildren(ask));
    yes.addEventListener("click", async () => {
      if (yes.getAttribute("aria-disabled")) return;
      yes.setAttribute("aria-disabled", "true");
      try {
        await api(`/standing-orders/${standing.id}`, { method: "DELETE" });
        banner(t("standing.stopped"), "ok");
        await onStopped();
      } catch (error) {
        note.textContent = errorText(error);
        yes.removeAttribute("aria-disabled");
      }
    });
    box.replaceChildren(h("p", {}, t("standing.stop_confirm")), h("div", { class: "actions" }, yes, no), note);
    yes.focus();
  });
  box.append(ask);
  return box;
}

export async function standingListView(main, _params, ctx) {
  setTitle("standing.title");
  main.append(pageHeader("standing.title"));
  const list = h("ul", { class: "list", id: "standing-list", "aria-live": "polite" });
  const listBox = h("section", { class: "card", "aria-labelledby": "standing-list-title" }, h("h2", { id: "standing-list-title" }, t("standing.yours")), list);
  let sites;
  let products;
  try {
    [sites, products] = await Promise.all([allPages("/sites"), loadProducts()]);
  } catch (error) {
    main.append(errorState(error, () => ctx.navigate("standing-orders", { replace: true })));
    return;
  }
  if (!ctx.isCurrent()) return;
  const siteById = Object.fromEntries(sites.map((s) => [s.id, s]));

  async function reload() {
    const page = await api("/standing-orders?limit=100");
    // The latest runs are on each one's own page: read for the active ones (a handful per account).
    const full = await Promise.all(page.items.map((s) => (s.status === "active" ? api(`/standing-orders/${s.id}`) : s)));
    if (!ctx.isCurrent()) return;
    const rows = await Promise.all(full.map((s) => standingCard(s, siteById[s.site_id])));
    list.replaceChildren(...(rows.length ? rows : [h("li", { class: "muted" }, t("standing.none"))]));
  }
  main.append(listBox);
  try {
    await reload();
  } catch (error) {
    listBox.append(errorState(error));
  }
  if (!ctx.isCurrent()) return;
  if (!sites.length) {
    main.append(emptyState("sites.none"));
    return;
  }
  if (can("standing_edit")) main.append(createForm(sites, products, reload));
}

export async function standingView(main, [id], ctx) {
  setTitle("standing.title");
  let standing;
  let sites;
  try {
    [standing, sites] = await Promise.all([api(`/standing-orders/${id}`), allPages("/sites")]);
  } catch (error) {
    main.append(pageHeader("standing.title"), errorState(error, () => ctx.navigate(`standing-orders/${id}`, { replace: true })));
    return;
  }
  if (!ctx.isCurrent()) return;
  const site = sites.find((s) => s.id === standing.site_id);
  const runs = standing.runs || [];
  const next = nextOccurrence(standing, runs, site?.timezone);
  main.append(
    pageHeader("standing.one_title", { site: site?.name || "" }, h("p", { class: "status-line" }, statusChip(standing))),
    h(
      "section",
      { class: "card", id: "standing-detail", dataset: { standing: standing.id } },
      details([
        ["order.site", site ? `${site.name} — ${site.address}` : ""],
        ["order.product", await productLabel(standing.product_code)],
        ["standing.quantity", litres(standing.quantity_litres)],
        ["standing.schedule", scheduleText(standing)],
        ["standing.period", periodText(standing)],
        ["standing.next_label", next ? day(next) : t("standing.no_next")],
        ["order.note", standing.note || ""],
      ]),
      standing.status === "active" && can("standing_edit") ? stopControl(standing, () => ctx.navigate(`standing-orders/${id}`, { replace: true })) : null,
    ),
    h("section", { class: "card", "aria-labelledby": "runs-title" }, h("h2", { id: "runs-title" }, t("standing.runs")), runsList(runs, runs.length)),
    h("p", {}, h("a", { href: `${BASE}/standing-orders`, class: "btn" }, t("standing.all"))),
  );
}
