// The audit log: who changed what, when, before and after; filtered by subject, actor and time, and exported.
import { api } from "../core/api.js";
import { dateTime, h } from "../core/dom.js";
import { has, t } from "../core/i18n.js";
import { setTitle } from "../core/shell.js";
import { pageHeader } from "../core/ui.js";
import { BASE, firstItems, isoToday, pagedTable, qs } from "./kit.js";

const SUBJECTS = ["customer", "user", "depot", "price", "contract_prices", "tier_table", "invoice", "invoice_run", "credit_note", "payment", "bank_line", "order", "pickup"];

function words(prefix, value) {
  const key = `office.${prefix}_${value}`;
  return has(key) ? t(key) : String(value).replaceAll("_", " ");
}

function shown(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** What changed: each field with its value before and after (a record of one side shows that side). */
export function changes(entry) {
  const before = entry.before || {};
  const after = entry.after || {};
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  if (!keys.length) return "";
  return h(
    "dl",
    { class: "changes" },
    keys.map((key) =>
      h(
        "div",
        {},
        h("dt", {}, key),
        h("dd", {}, entry.before && entry.after ? `${shown(before[key])} → ${shown(after[key])}` : shown(entry.after ? after[key] : before[key])),
      ),
    ),
  );
}

function subjectLink(entry) {
  const label = words("subject", entry.subject_type);
  if (entry.subject_type === "customer" && entry.subject_id) return h("a", { href: `${BASE}/customers/${entry.subject_id}` }, label);
  if (entry.subject_type === "user" && entry.subject_id) return h("a", { href: `${BASE}/users/${entry.subject_id}` }, label);
  if (entry.subject_type === "invoice" && entry.subject_id) return h("a", { href: `${BASE}/finance/invoices/${entry.subject_id}` }, label);
  if (entry.subject_type === "payment" && entry.subject_id) return h("a", { href: `${BASE}/finance/payments/${entry.subject_id}` }, label);
  return label;
}

/** Staff who may have changed something, by id: the actor filter and the "who" column. */
async function staffNames() {
  try {
    const { items } = await firstItems("/users", 2000);
    return items.filter((u) => u.role !== "customer");
  } catch {
    return [];
  }
}

/**
 * The audit table. `fixed`: filters that are not the person's to change (the customer page's own account);
 * `query`: the address bar's filters.
 */
export function auditTable({ fixed = {}, query = null, staff = [] } = {}) {
  const name = Object.fromEntries(staff.map((u) => [u.id, u.display_name || u.username]));
  const filters = [
    { name: "subject_type", key: "office.subject", type: "select", options: SUBJECTS.map((s) => ({ value: s, label: words("subject", s) })) },
    staff.length ? { name: "actor_id", key: "office.by", type: "select", options: staff.map((u) => ({ value: u.id, label: u.display_name || u.username })) } : null,
    { name: "from", key: "office.from", type: "date" },
    { name: "to", key: "office.to", type: "date" },
  ].filter(Boolean);
  const load = ({ limit, offset, filters: f }) => {
    const params = { ...f, ...fixed, limit, offset };
    // The audit takes times: the first day's start and the last day's end, in the business time zone.
    if (f.from) params.from = `${f.from}T00:00:00+08:00`;
    if (f.to) params.to = `${f.to}T23:59:59.999+08:00`;
    return api(`/audit${qs(params)}`);
  };
  return pagedTable({
    title: t("office.audit_title"),
    query,
    filters,
    columns: [
      { key: "office.when", cell: (e) => dateTime(e.at) },
      { key: "office.by", cell: (e) => name[e.actor_id] || (e.actor_id ? e.actor_role : t("office.system")) },
      { key: "office.action", cell: (e) => words("action", e.action) },
      { key: "office.subject", cell: subjectLink },
      { key: "office.changes", cell: changes },
    ],
    load,
    csv: {
      filename: () => `audit-${isoToday()}.csv`,
      columns: [
        [t("office.when"), (e) => e.at],
        [t("office.by"), (e) => name[e.actor_id] || e.actor_role],
        [t("office.action"), (e) => e.action],
        [t("office.subject"), (e) => e.subject_type],
        ["subject_id", (e) => e.subject_id],
        ["customer_id", (e) => e.customer_id],
        ["before", (e) => (e.before ? JSON.stringify(e.before) : "")],
        ["after", (e) => (e.after ? JSON.stringify(e.after) : "")],
      ],
    },
    emptyKey: "office.no_audit",
  });
}

export async function auditView(main, _params, ctx) {
  setTitle("office.audit_title");
  main.append(pageHeader("office.audit_title"));
  const staff = await staffNames();
  if (!ctx.isCurrent()) return;
  const subject = ctx.query.get("subject_id");
  const table = auditTable({ query: ctx.query, staff, fixed: subject ? { subject_id: subject } : {} });
  main.append(table.element);
  await table.reload();
}
