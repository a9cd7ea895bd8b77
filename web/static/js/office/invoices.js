// Invoices with their lines, PDF and e-fapiao export, and credit notes (an invoice is never edited: a credit note
// takes back the whole of it or some lines).
import { api } from "../core/api.js";
import { day, h, litres, money, number } from "../core/dom.js";
import { IdempotencyKeys, busy, checkRequired, clearErrors, field, showError } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { details, errorState, pageHeader } from "../core/ui.js";
import { financeTabs, head } from "./finance.js";
import { card, customerLink, downloadButton, moneyInput, readMinor } from "./kit.js";
import { invoiceChip, invoicesTable } from "./money-ui.js";

export async function invoicesView(main, _params, ctx) {
  setTitle("office.invoices");
  main.append(...head("office.finance_title"));
  const table = invoicesTable({ query: ctx.query, names: true });
  main.append(table.element);
  await table.reload();
}

function creditForm(invoice, ctx) {
  const reason = h("textarea", { name: "reason", rows: 2, maxlength: 2000, required: true });
  const whole = h("input", { type: "radio", name: "scope", value: "whole", checked: true, id: "scope-whole" });
  const some = h("input", { type: "radio", name: "scope", value: "lines", id: "scope-lines" });
  const open = invoice.lines.filter((line) => line.amount_minor > line.credited_minor);
  const lineRows = open.map((line) => {
    const check = h("input", { type: "checkbox", name: "line", value: line.id, "aria-label": t("office.credit_line", { n: line.position }) });
    const amount = moneyInput(`amount-${line.id}`, { value: line.amount_minor - line.credited_minor });
    amount.setAttribute("aria-label", t("office.credit_amount_of", { n: line.position }));
    return { line, check, amount, row: h("tr", {}, h("td", {}, check), h("td", {}, `${line.position}. ${line.reference}`), h("td", { class: "num" }, money(line.amount_minor - line.credited_minor, invoice.currency)), h("td", {}, amount, h("p", { class: "field-error", dataset: { errorFor: `amount-${line.id}` } }))) };
  });
  const linesBox = h(
    "div",
    { class: "table-scroll credit-lines", hidden: true, tabindex: "0", role: "region", "aria-label": t("office.lines_to_credit") },
    h(
      "table",
      { class: "data-table" },
      h("thead", {}, h("tr", {}, ["office.credit", "office.line", "office.left_to_credit", "office.amount"].map((k) => h("th", { scope: "col" }, t(k))))),
      h("tbody", {}, lineRows.map((r) => r.row)),
    ),
  );
  for (const radio of [whole, some]) radio.addEventListener("change", () => (linesBox.hidden = !some.checked));
  const keys = new IdempotencyKeys();
  const form = h(
    "form",
    { class: "card form", id: "credit-note", novalidate: true },
    h("h2", {}, t("office.issue_credit_note")),
    h("p", { class: "hint" }, t("office.credit_note_hint")),
    field("office.reason", reason),
    h(
      "fieldset",
      { class: "field" },
      h("legend", {}, t("office.credit_what")),
      h("div", { class: "radio" }, whole, h("label", { for: "scope-whole" }, t("office.credit_whole"))),
      h("div", { class: "radio" }, some, h("label", { for: "scope-lines" }, t("office.credit_some"))),
    ),
    linesBox,
    h("button", { type: "submit", class: "btn btn-danger" }, t("office.issue_credit_note")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!checkRequired(form)) return;
    const body = { reason: reason.value.trim() };
    try {
      if (some.checked) {
        const chosen = lineRows.filter((r) => r.check.checked);
        if (!chosen.length) throw { code: "no_lines_chosen", status: 400, detail: t("errors.no_lines_chosen") };
        body.lines = chosen.map((r) => ({ invoice_line_id: r.line.id, amount_minor: readMinor(r.amount, { min: 1 }) }));
      }
    } catch (error) {
      showError(form, error);
      return;
    }
    busy(form, async () => {
      try {
        const note = await api(`/invoices/${invoice.id}/credit-notes`, { method: "POST", body, headers: { "Idempotency-Key": keys.keyFor(body) } });
        banner(t("office.credit_note_issued", { number: note.number, amount: money(note.total_minor, note.currency) }), "ok");
        ctx.navigate(`finance/invoices/${invoice.id}`, { replace: true });
      } catch (error) {
        showError(form, error);
      }
    });
  });
  return form;
}

export async function invoiceView(main, [id], ctx) {
  setTitle("office.invoice");
  let invoice;
  try {
    invoice = await api(`/invoices/${id}`);
  } catch (error) {
    main.append(...head("office.invoice"), errorState(error));
    return;
  }
  if (!ctx.isCurrent()) return;
  const c = invoice.currency;
  main.append(
    pageHeader("office.invoice_of", { number: invoice.number }, invoiceChip(invoice.status)),
    financeTabs(),
    h(
      "div",
      { class: "columns" },
      card(
        t("office.invoice"),
        details([
          ["office.customer", customerLink(invoice.customer_id)],
          ["office.buyer", `${invoice.buyer_name}${invoice.buyer_tax_id ? ` · ${invoice.buyer_tax_id}` : ""}`],
          ["office.period", `${day(invoice.period_start)} – ${day(invoice.period_end)}`],
          ["office.issued_on", day(invoice.issue_date)],
          ["office.due_on", day(invoice.due_date)],
          ["office.net", money(invoice.net_minor, c)],
          ["office.tax", money(invoice.tax_minor, c)],
          ["office.total", money(invoice.total_minor, c)],
          ["office.paid", money(invoice.paid_minor, c)],
          ["office.credited", money(invoice.credited_minor, c)],
          ["office.outstanding", money(invoice.outstanding_minor, c)],
        ]),
        h(
          "div",
          { class: "exports" },
          downloadButton("office.download_pdf", () => `/invoices/${id}.pdf`, () => `${invoice.number}.pdf`),
          downloadButton("office.download_efapiao", () => `/invoices/${id}/efapiao.json`, () => `${invoice.number}-efapiao.json`),
        ),
      ),
      card(
        t("office.credit_notes"),
        invoice.credit_notes?.length
          ? h(
              "ul",
              { class: "plain-list" },
              invoice.credit_notes.map((n) =>
                h("li", {}, `${n.number} · ${day(n.issue_date)} · ${money(n.total_minor, c)} `, downloadButton("office.download_pdf", () => `/credit-notes/${n.id}.pdf`, () => `${n.number}.pdf`, { kind: "btn-link-dark" })),
              ),
            )
          : h("p", { class: "muted" }, t("office.no_credit_notes")),
      ),
    ),
    card(
      t("office.lines"),
      h(
        "div",
        { class: "table-scroll", tabindex: "0", role: "region", "aria-label": t("office.lines") },
        h(
          "table",
          { class: "data-table" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["office.line", "office.document", "office.product", "office.observed", "office.temperature", "office.net_litres", "office.unit_price", "office.discount", "office.tax", "office.amount", "office.credited"].map((k, i) =>
                h("th", { scope: "col", class: i > 2 ? "num" : undefined }, t(k)),
              ),
            ),
          ),
          h(
            "tbody",
            {},
            invoice.lines.map((line) =>
              h(
                "tr",
                {},
                h("td", {}, `${line.position}. ${line.reference}`),
                h("td", {}, line.document_number),
                h("td", {}, line.product_name),
                h("td", { class: "num" }, litres(line.observed_litres)),
                h("td", { class: "num" }, `${number(line.temperature_c, 1)} °C`),
                h("td", { class: "num" }, litres(line.net_litres)),
                h("td", { class: "num" }, money(line.unit_price_minor, c)),
                h("td", { class: "num" }, money(line.discount_minor, c)),
                h("td", { class: "num" }, `${money(line.tax_minor, c)} (${number(line.tax_rate_bps / 100, 2)}%)`),
                h("td", { class: "num" }, money(line.amount_minor, c)),
                h("td", { class: "num" }, money(line.credited_minor, c)),
              ),
            ),
          ),
        ),
      ),
    ),
    invoice.status !== "credited" && invoice.lines.some((l) => l.amount_minor > l.credited_minor) ? creditForm(invoice, ctx) : null,
  );
}
