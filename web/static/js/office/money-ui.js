// Money on screen, shared by the finance pages and the customer page: invoice and payment lists with their
// exports, the ledger, and a month's statement with its PDF, CSV and XLSX.
import { api } from "../core/api.js";
import { dateTime, day, h, money } from "../core/dom.js";
import { has, t } from "../core/i18n.js";
import { details } from "../core/ui.js";
import { BASE, card, customerLink, downloadButton, fill, isoMonth, isoToday, pagedTable, qs } from "./kit.js";

export const INVOICE_STATUSES = ["issued", "part_paid", "paid", "credited"];
export const PAYMENT_METHODS = ["bank_transfer", "cash", "card", "prepaid_topup"];
const INVOICE_TONE = { issued: "warn", part_paid: "info", paid: "ok", credited: "muted" };

function word(prefix, value) {
  const key = `office.${prefix}_${value}`;
  return has(key) ? t(key) : value;
}

export function invoiceChip(status) {
  return h("span", { class: `chip chip-${INVOICE_TONE[status] || "neutral"}`, dataset: { status } }, word("invoice", status));
}

export const ledgerKind = (kind) => word("ledger", kind);
export const methodName = (method) => word("method", method);

export function signed(minor, currency) {
  return h("span", { class: minor < 0 ? "amount-credit" : "amount-debit" }, money(minor, currency));
}

/** Invoices, filtered by status and issue dates (and one customer's when `customerId`), with the XLSX export. */
export function invoicesTable({ customerId = null, query = null, names = null } = {}) {
  return pagedTable({
    title: t("office.invoices"),
    query,
    filters: [
      { name: "status", key: "office.status", type: "select", options: INVOICE_STATUSES.map((s) => ({ value: s, label: word("invoice", s) })) },
      { name: "from", key: "office.from", type: "date" },
      { name: "to", key: "office.to", type: "date" },
    ],
    columns: [
      { key: "office.number", cell: (i) => h("a", { href: `${BASE}/finance/invoices/${i.id}` }, i.number) },
      names ? { key: "office.customer", cell: (i) => h("a", { href: `${BASE}/customers/${i.customer_id}` }, i.buyer_name) } : null,
      { key: "office.issued_on", cell: (i) => day(i.issue_date) },
      { key: "office.due_on", cell: (i) => day(i.due_date) },
      { key: "office.status", cell: (i) => invoiceChip(i.status) },
      { key: "office.total", num: true, cell: (i) => money(i.total_minor, i.currency) },
      { key: "office.outstanding", num: true, cell: (i) => money(i.outstanding_minor, i.currency) },
    ].filter(Boolean),
    load: ({ limit, offset, filters }) => api(`/invoices${qs({ ...filters, customer_id: customerId, limit, offset })}`),
    exports: [
      {
        key: "office.export_xlsx",
        path: (f) => `/invoices.xlsx${qs({ from: f.from, to: f.to, customer_id: customerId })}`,
        filename: (f) => `invoices-${f.from || "all"}-${f.to || isoToday()}.xlsx`,
      },
    ],
    emptyKey: "office.no_invoices",
  });
}

/** Payments received, by dates (and one customer's), with the XLSX export. */
export function paymentsTable({ customerId = null, query = null, names = false } = {}) {
  return pagedTable({
    title: t("office.payments"),
    query,
    filters: [
      { name: "from", key: "office.from", type: "date" },
      { name: "to", key: "office.to", type: "date" },
    ],
    columns: [
      { key: "office.received_on", cell: (p) => h("a", { href: `${BASE}/finance/payments/${p.id}` }, day(p.received_on)) },
      names ? { key: "office.customer", cell: (p) => customerLink(p.customer_id) } : null,
      { key: "office.method", cell: (p) => methodName(p.method) },
      { key: "office.reference", cell: (p) => p.reference || "" },
      { key: "office.amount", num: true, cell: (p) => money(p.amount_minor, p.currency) },
      { key: "office.unallocated", num: true, cell: (p) => money(p.unallocated_minor, p.currency) },
    ].filter(Boolean),
    load: ({ limit, offset, filters }) => api(`/payments${qs({ ...filters, customer_id: customerId, limit, offset })}`),
    exports: [
      {
        key: "office.export_xlsx",
        path: (f) => `/payments.xlsx${qs({ from: f.from, to: f.to, customer_id: customerId })}`,
        filename: (f) => `payments-${f.from || "all"}-${f.to || isoToday()}.xlsx`,
      },
    ],
    emptyKey: "office.no_payments",
  });
}

/** One account's ledger, oldest first, each entry with the balance after it. */
export function ledgerTable(customerId, { query = null } = {}) {
  return pagedTable({
    title: t("office.ledger"),
    query,
    filters: [
      { name: "from", key: "office.from", type: "date" },
      { name: "to", key: "office.to", type: "date" },
    ],
    columns: [
      { key: "office.when", cell: (e) => dateTime(e.at) },
      { key: "office.kind", cell: (e) => ledgerKind(e.kind) },
      { key: "office.note", cell: (e) => e.note || "" },
      { key: "office.by", cell: (e) => e.actor || t("office.system") },
      { key: "office.amount", num: true, cell: (e) => signed(e.amount_minor, e.currency) },
      { key: "office.balance", num: true, cell: (e) => money(e.balance_minor, e.currency) },
    ],
    load: ({ limit, offset, filters }) => {
      // The ledger takes times: a day's start and the next day's start, in the business time zone.
      const range = { from: filters.from ? `${filters.from}T00:00:00+08:00` : "", to: filters.to ? `${filters.to}T23:59:59.999+08:00` : "" };
      return api(`/customers/${customerId}/ledger${qs({ ...range, limit, offset })}`);
    },
    csv: {
      filename: () => `ledger-${customerId.slice(0, 8)}-${isoToday()}.csv`,
      columns: [
        [t("office.when"), (e) => e.at],
        [t("office.kind"), (e) => ledgerKind(e.kind)],
        [t("office.note"), (e) => e.note],
        [t("office.by"), (e) => e.actor],
        [t("office.amount_yuan"), (e) => (e.amount_minor / 100).toFixed(2)],
        [t("office.balance_yuan"), (e) => (e.balance_minor / 100).toFixed(2)],
      ],
    },
    emptyKey: "office.no_entries",
  });
}

/** A month's statement of an account: shown, and saved as PDF, CSV or XLSX. */
export function statementPanel(customerId, { month = isoMonth(0) } = {}) {
  const picker = h("input", { type: "month", name: "month", value: month, max: isoMonth(0), "aria-label": t("office.month") });
  const label = h("label", { for: "statement-month" }, t("office.month"));
  picker.id = "statement-month";
  const show = h("button", { type: "button", class: "btn btn-small", id: "show-statement" }, t("office.show"));
  const body = h("div", { class: "statement", "aria-live": "polite" });
  const base = () => `/customers/${customerId}/statements/${picker.value}`;
  const name = (ext) => () => `statement-${customerId.slice(0, 8)}-${picker.value}.${ext}`;
  const downloads = h(
    "div",
    { class: "exports" },
    downloadButton("office.download_pdf", () => `${base()}.pdf`, name("pdf")),
    downloadButton("office.download_csv", () => `${base()}.csv`, name("csv")),
    downloadButton("office.download_xlsx", () => `${base()}.xlsx`, name("xlsx")),
  );
  function draw() {
    if (!picker.value) return;
    fill(body, async () => {
      const st = await api(base());
      return [
        details([
          ["office.period", `${day(st.period_start)} – ${day(st.period_end)}`],
          ["office.opening_balance", money(st.opening_balance_minor, st.currency)],
          ["office.closing_balance", money(st.closing_balance_minor, st.currency)],
          ["office.unpaid_invoices", money(st.unpaid_invoices_minor, st.currency)],
        ]),
        h(
          "table",
          { class: "data-table ageing" },
          h("caption", {}, t("office.ageing")),
          h("thead", {}, h("tr", {}, Object.keys(st.ageing).map((bucket) => h("th", { scope: "col", class: "num" }, t("office.days", { range: bucket }))))),
          h("tbody", {}, h("tr", {}, Object.values(st.ageing).map((v) => h("td", { class: "num" }, money(v, st.currency))))),
        ),
        h(
          "div",
          { class: "table-scroll", tabindex: "0", role: "region", "aria-label": t("office.movements") },
          st.movements.length
            ? h(
                "table",
                { class: "data-table" },
                h("thead", {}, h("tr", {}, ["office.day", "office.kind", "office.reference", "office.amount", "office.balance"].map((k, i) => h("th", { scope: "col", class: i > 2 ? "num" : undefined }, t(k))))),
                h(
                  "tbody",
                  {},
                  st.movements.map((m) =>
                    h(
                      "tr",
                      {},
                      h("td", {}, day(m.day)),
                      h("td", {}, ledgerKind(m.kind)),
                      h("td", {}, m.reference || m.description || ""),
                      h("td", { class: "num" }, signed(m.amount_minor, st.currency)),
                      h("td", { class: "num" }, money(m.balance_minor, st.currency)),
                    ),
                  ),
                ),
              )
            : h("p", { class: "muted" }, t("office.no_movements")),
        ),
      ];
    });
  }
  show.addEventListener("click", draw);
  picker.addEventListener("change", draw);
  draw();
  return card(
    t("office.statement"),
    h("div", { class: "filters-row" }, h("div", { class: "field field-inline" }, label, picker), show, downloads),
    body,
  );
}
