// Finance: invoice runs with their progress, invoices with their lines and credit notes, payments (recorded with
// an Idempotency-Key, allocated to invoices), bank statement import with the matching to review and the queue of
// unmatched lines, and statements.
import { api } from "../core/api.js";
import { dateTime, day, h, isoDay, litres, money, number } from "../core/dom.js";
import { IdempotencyKeys, busy, checkRequired, clearErrors, field, showError } from "../core/forms.js";
import { has, t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { details, errorState, pageHeader } from "../core/ui.js";
import {
  BASE,
  card,
  confirmButton,
  customerLink,
  customerName,
  customerPicker,
  downloadButton,
  moneyInput,
  pageOf,
  pagedTable,
  poll,
  progressBar,
  qs,
  readMinor,
  tabs,
  toYuan,
} from "./kit.js";
import { PAYMENT_METHODS, invoiceChip, invoicesTable, methodName, paymentsTable, statementPanel } from "./money-ui.js";

const RUN_TONE = { queued: "neutral", running: "info", succeeded: "ok", failed: "bad" };
const BANK_STATUSES = ["unmatched", "matched", "assigned", "ignored"];

function financeTabs() {
  return tabs("office.finance_parts", [
    { path: "finance", key: "office.invoice_runs" },
    { path: "finance/invoices", key: "office.invoices" },
    { path: "finance/payments", key: "office.payments" },
    { path: "finance/bank", key: "office.bank" },
    { path: "finance/statements", key: "office.statements" },
  ]);
}

function head(titleKey, params) {
  return [pageHeader(titleKey, params), financeTabs()];
}

function runChip(status) {
  const key = `office.run_${status}`;
  return h("span", { class: `chip chip-${RUN_TONE[status] || "neutral"}`, dataset: { status } }, has(key) ? t(key) : status);
}

// ------------------------------------------------------------------ invoice runs

/** A run followed until it ends: a progress bar over the accounts, then what it issued (or why it failed). */
function runProgress(run, { onEnd }) {
  const bar = progressBar("office.run_progress");
  const state = h("p", { class: "run-state", "aria-live": "polite" });
  const element = h("section", { class: "card run-progress", dataset: { run: run.id } }, h("h2", {}, t("office.run_of", { day: day(run.period_end) })), bar.element, state);
  function show(current) {
    element.dataset.status = current.status;
    if (current.status === "queued") bar.update(null);
    else bar.update(current.status === "running" ? current.customers_done : current.customers_total, current.customers_total);
    state.replaceChildren(
      runChip(current.status),
      " ",
      t("office.run_counts", { done: number(current.customers_done), total: number(current.customers_total), issued: number(current.invoices_issued) }),
      current.error ? h("span", { class: "field-error run-error" }, ` ${current.error}`) : "",
    );
  }
  show(run);
  const stop = poll(
    async () => {
      const current = await api(`/invoice-runs/${run.id}`);
      show(current);
      const ended = current.status === "succeeded" || current.status === "failed";
      if (ended) onEnd(current);
      return ended;
    },
    { ms: 600, onError: (error) => state.append(h("span", { class: "field-error" }, ` ${error.message}`)) },
  );
  return { element, stop };
}

export async function runsView(main, _params, ctx) {
  setTitle("office.invoice_runs");
  main.append(...head("office.finance_title"));
  const periodEnd = h("input", { type: "date", name: "period_end", value: isoDay(-1), max: isoDay(0), required: true });
  const picker = customerPicker("office.customer_optional", { optional: true });
  const progressBox = h("div", { class: "run-box" });
  const form = h(
    "form",
    { class: "card form", id: "invoice-run", novalidate: true },
    h("h2", {}, t("office.new_invoice_run")),
    h("p", { class: "hint" }, t("office.invoice_run_hint")),
    field("office.period_end", periodEnd),
    picker.element,
    h("button", { type: "submit", class: "btn btn-primary" }, t("office.run_invoices")),
  );
  const runs = pagedTable({
    title: t("office.invoice_runs"),
    query: ctx.query,
    columns: [
      { key: "office.started", cell: (r) => dateTime(r.created_at) },
      { key: "office.period_end", cell: (r) => day(r.period_end) },
      { key: "office.customer", cell: (r) => (r.customer_id ? customerLink(r.customer_id) : t("office.all_customers")) },
      { key: "office.status", cell: (r) => runChip(r.status) },
      { key: "office.accounts_done", num: true, cell: (r) => `${number(r.customers_done)} / ${number(r.customers_total)}` },
      { key: "office.invoices_issued", num: true, cell: (r) => number(r.invoices_issued) },
      { key: "office.error", cell: (r) => r.error || "" },
    ],
    load: pageOf("/invoice-runs"),
    emptyKey: "office.no_runs",
  });
  main.append(form, progressBox, runs.element);
  let following = null;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!checkRequired(form)) return;
    const body = { period_end: periodEnd.value };
    if (picker.select.value) body.customer_id = picker.select.value;
    busy(form, async () => {
      try {
        const run = await api("/invoice-runs", { method: "POST", body });
        following?.stop();
        following = runProgress(run, {
          onEnd: (ended) => {
            banner(t(ended.status === "succeeded" ? "office.run_done" : "office.run_failed", { n: number(ended.invoices_issued) }), ended.status === "succeeded" ? "ok" : "error");
            runs.reload();
          },
        });
        progressBox.replaceChildren(following.element);
        runs.reload();
      } catch (error) {
        showError(form, error);
      }
    });
  });
  await runs.reload();
  // A run still going when the page opens is followed too.
  const open = (await api("/invoice-runs?limit=1").catch(() => null))?.items?.[0];
  if (open && (open.status === "queued" || open.status === "running") && ctx.isCurrent() && !following) {
    following = runProgress(open, { onEnd: () => runs.reload() });
    progressBox.replaceChildren(following.element);
  }
  return () => following?.stop();
}

// ------------------------------------------------------------------ invoices

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

// ------------------------------------------------------------------ payments

function recordForm(ctx, onDone) {
  const picker = customerPicker("office.customer", { value: ctx.query.get("customer") || "", label: ctx.query.get("name") || "" });
  const amount = moneyInput("amount_minor");
  const received = h("input", { type: "date", name: "received_on", value: isoDay(0), max: isoDay(0), required: true });
  const method = h("select", { name: "method" }, PAYMENT_METHODS.map((m) => h("option", { value: m }, methodName(m))));
  const reference = h("input", { name: "reference", maxlength: 120, autocomplete: "off" });
  const allocate = h("input", { type: "checkbox", name: "allocate", checked: true, id: "allocate" });
  const keys = new IdempotencyKeys();
  const form = h(
    "form",
    { class: "card form", id: "record-payment", novalidate: true },
    h("h2", {}, t("office.record_payment")),
    picker.element,
    h("div", { class: "row" }, field("office.amount_yuan", amount), field("office.received_on", received)),
    h("div", { class: "row" }, field("office.method", method), field("office.reference", reference)),
    h("div", { class: "checkbox" }, allocate, h("label", { for: "allocate" }, t("office.allocate_oldest_first"))),
    h("button", { type: "submit", class: "btn btn-primary" }, t("office.record_payment")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!checkRequired(form)) return;
    let body;
    try {
      body = {
        customer_id: picker.select.value,
        amount_minor: readMinor(amount, { min: 1 }),
        received_on: received.value,
        method: method.value,
        allocate: allocate.checked,
      };
    } catch (error) {
      showError(form, error);
      return;
    }
    if (reference.value.trim()) body.reference = reference.value.trim();
    busy(form, async () => {
      try {
        // The same key for the same payment: a double click or a retry after a lost answer records it once.
        const payment = await api("/payments", { method: "POST", body, headers: { "Idempotency-Key": keys.keyFor(body) } });
        banner(
          t("office.payment_recorded", { amount: money(payment.amount_minor, payment.currency), allocated: money(payment.allocated_minor, payment.currency) }),
          "ok",
        );
        onDone(payment);
      } catch (error) {
        showError(form, error);
      }
    });
  });
  return form;
}

export async function paymentsView(main, _params, ctx) {
  setTitle("office.payments");
  main.append(...head("office.finance_title"));
  const table = paymentsTable({ query: ctx.query, names: true });
  main.append(recordForm(ctx, (payment) => ctx.navigate(`finance/payments/${payment.id}`)), table.element);
  await table.reload();
}

async function openInvoices(customerId) {
  const [issued, partPaid] = await Promise.all(
    ["issued", "part_paid"].map((status) => api(`/invoices${qs({ customer_id: customerId, status, limit: 200 })}`)),
  );
  return [...issued.items, ...partPaid.items].sort((a, b) => a.issue_date.localeCompare(b.issue_date));
}

function allocateForm(payment, invoices, ctx) {
  const invoice = h(
    "select",
    { name: "invoice_id", required: true },
    invoices.map((i) => h("option", { value: i.id, dataset: { open: String(i.outstanding_minor) } }, `${i.number} · ${day(i.issue_date)} · ${t("office.open_amount", { amount: money(i.outstanding_minor, i.currency) })}`)),
  );
  const amount = moneyInput("amount_minor", { value: Math.min(payment.unallocated_minor, invoices[0]?.outstanding_minor ?? 0) });
  invoice.addEventListener("change", () => {
    const open = Number(invoice.selectedOptions[0]?.dataset.open || 0);
    amount.value = toYuan(Math.min(payment.unallocated_minor, open));
  });
  const keys = new IdempotencyKeys();
  const form = h(
    "form",
    { class: "card form", id: "allocate-payment", novalidate: true },
    h("h2", {}, t("office.allocate")),
    field("office.invoice", invoice),
    field("office.amount_yuan", amount),
    h("button", { type: "submit", class: "btn btn-primary" }, t("office.allocate")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    let body;
    try {
      body = { invoice_id: invoice.value, amount_minor: readMinor(amount, { min: 1 }) };
    } catch (error) {
      showError(form, error);
      return;
    }
    busy(form, async () => {
      try {
        await api(`/payments/${payment.id}/allocate`, { method: "POST", body, headers: { "Idempotency-Key": keys.keyFor(body) } });
        banner(t("office.allocated"), "ok");
        ctx.navigate(`finance/payments/${payment.id}`, { replace: true });
      } catch (error) {
        showError(form, error);
      }
    });
  });
  return form;
}

export async function paymentView(main, [id], ctx) {
  setTitle("office.payment");
  let payment;
  try {
    payment = await api(`/payments/${id}`);
  } catch (error) {
    main.append(...head("office.payment"), errorState(error));
    return;
  }
  const invoices = payment.unallocated_minor > 0 ? await openInvoices(payment.customer_id).catch(() => []) : [];
  if (!ctx.isCurrent()) return;
  const c = payment.currency;
  main.append(
    pageHeader("office.payment_of", { amount: money(payment.amount_minor, c) }),
    financeTabs(),
    h(
      "div",
      { class: "columns" },
      card(
        t("office.payment"),
        details([
          ["office.customer", customerLink(payment.customer_id)],
          ["office.received_on", day(payment.received_on)],
          ["office.method", methodName(payment.method)],
          ["office.reference", payment.reference || ""],
          ["office.amount", money(payment.amount_minor, c)],
          ["office.allocated", money(payment.allocated_minor, c)],
          ["office.unallocated", money(payment.unallocated_minor, c)],
          ["office.recorded_at", dateTime(payment.recorded_at)],
        ]),
      ),
      card(
        t("office.allocations"),
        payment.allocations.length
          ? h(
              "ul",
              { class: "plain-list allocations" },
              payment.allocations.map((a) =>
                h("li", {}, h("a", { href: `${BASE}/finance/invoices/${a.invoice_id}` }, a.invoice_number), ` · ${money(a.amount_minor, c)} · ${dateTime(a.allocated_at)}`),
              ),
            )
          : h("p", { class: "muted" }, t("office.no_allocations")),
      ),
    ),
    payment.unallocated_minor > 0
      ? invoices.length
        ? allocateForm(payment, invoices, ctx)
        : h("p", { class: "notice" }, t("office.nothing_to_allocate"))
      : null,
  );
}

// ------------------------------------------------------------------ bank statements

function bankLinesTable(lines, { showRule }) {
  if (!lines.length) return h("p", { class: "muted" }, t("office.none"));
  return h(
    "div",
    { class: "table-scroll", tabindex: "0", role: "region", "aria-label": t("office.bank_lines") },
    h(
      "table",
      { class: "data-table" },
      h(
        "thead",
        {},
        h("tr", {}, [
          ["office.line", false],
          ["office.booked_on", false],
          ["office.payer", false],
          ["office.reference", false],
          ["office.amount", true],
          ...(showRule ? [["office.customer", false], ["office.match_rule", false]] : []),
        ].map(([k, num]) => h("th", { scope: "col", class: num ? "num" : undefined }, t(k)))),
      ),
      h(
        "tbody",
        {},
        lines.map((line) =>
          h(
            "tr",
            { dataset: { line: String(line.line_number ?? "") } },
            h("td", {}, String(line.line_number ?? "")),
            h("td", {}, day(line.booked_on)),
            h("td", {}, [line.payer_name, line.payer_account].filter(Boolean).join(" · ")),
            h("td", {}, line.reference || ""),
            h("td", { class: "num" }, money(line.amount_minor, line.currency)),
            showRule ? h("td", {}, customerLink(line.customer_id)) : null,
            showRule ? h("td", {}, has(`office.rule_${line.match_rule}`) ? t(`office.rule_${line.match_rule}`) : line.match_rule || "") : null,
          ),
        ),
      ),
    ),
  );
}

function importForm(onImported) {
  const file = h("input", { type: "file", name: "file", accept: ".csv,text/csv", required: true });
  const form = h(
    "form",
    { class: "card form", id: "bank-import", novalidate: true },
    h("h2", {}, t("office.import_statement")),
    field("office.statement_file", file, { hint: "office.statement_file_hint" }),
    h("button", { type: "submit", class: "btn btn-primary" }, t("office.import")),
  );
  const bar = progressBar("office.importing");
  bar.element.hidden = true;
  form.append(bar.element);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!file.files.length) {
      showError(form, { code: "file_required", field: "file", status: 400, detail: t("errors.file_required") });
      return;
    }
    const upload = new FormData();
    upload.append("file", file.files[0]);
    busy(form, async () => {
      bar.element.hidden = false;
      bar.update(null);
      try {
        const result = await api("/payments/import", { method: "POST", body: upload });
        bar.update(1);
        onImported(result);
      } catch (error) {
        showError(form, error.errors?.length ? { ...error, detail: error.errors.map((e) => `${t("office.line")} ${e.line}: ${e.message}`).join("; ") } : error);
      } finally {
        bar.element.hidden = true;
      }
    });
  });
  return form;
}

function importResult(result) {
  return h(
    "section",
    { class: "card import-result", id: "import-result" },
    h("h2", {}, t("office.import_result")),
    h(
      "p",
      { class: "import-counts" },
      t("office.import_counts", { matched: number(result.matched.length), unmatched: number(result.unmatched.length), skipped: number(result.skipped.length) }),
    ),
    h("h3", {}, t("office.matched_lines")),
    bankLinesTable(result.matched, { showRule: true }),
    h("h3", {}, t("office.unmatched_lines")),
    bankLinesTable(result.unmatched, { showRule: false }),
    result.skipped.length
      ? [
          h("h3", {}, t("office.skipped_lines")),
          h("ul", { class: "plain-list" }, result.skipped.map((s) => h("li", {}, `${t("office.line")} ${s.line_number}: ${has(`office.skip_${s.reason}`) ? t(`office.skip_${s.reason}`) : s.reason}`))),
        ]
      : null,
  );
}

/** The panel under the queue where one line is given to a customer or set aside. */
function assignPanel(line, onDone) {
  const picker = customerPicker("office.customer");
  const allocate = h("input", { type: "checkbox", name: "allocate", checked: true, id: `allocate-${line.id}` });
  const reason = h("input", { name: "reason", maxlength: 2000, autocomplete: "off" });
  const form = h(
    "form",
    { class: "card form assign-panel", novalidate: true, dataset: { line: line.id } },
    h("h2", {}, t("office.assign_line", { amount: money(line.amount_minor, line.currency), day: day(line.booked_on) })),
    h("p", {}, [line.payer_name, line.payer_account, line.reference].filter(Boolean).join(" · ")),
    picker.element,
    h("div", { class: "checkbox" }, allocate, h("label", { for: allocate.id }, t("office.allocate_oldest_first"))),
    h("button", { type: "submit", class: "btn btn-primary" }, t("office.assign")),
    h("hr"),
    field("office.ignore_reason", reason),
  );
  form.append(
    confirmButton("office.ignore", "office.confirm_ignore", async () => {
      clearErrors(form);
      try {
        const body = reason.value.trim() ? { reason: reason.value.trim() } : {};
        await api(`/payments/unmatched/${line.id}/ignore`, { method: "POST", body });
        banner(t("office.line_ignored"), "ok");
        onDone();
      } catch (error) {
        showError(form, error);
      }
    }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!checkRequired(form)) return;
    busy(form, async () => {
      try {
        const body = { customer_id: picker.select.value, allocate: allocate.checked };
        await api(`/payments/unmatched/${line.id}/assign`, { method: "POST", body });
        banner(t("office.line_assigned", { customer: await customerName(body.customer_id) }), "ok");
        onDone();
      } catch (error) {
        showError(form, error);
      }
    });
  });
  return form;
}

export async function bankView(main, _params, ctx) {
  setTitle("office.bank");
  main.append(...head("office.finance_title"));
  const resultBox = h("div");
  const panelBox = h("div");
  let queue;
  queue = pagedTable({
    title: t("office.bank_queue"),
    query: ctx.query,
    filters: [{ name: "status", key: "office.status", type: "select", default: "unmatched", options: BANK_STATUSES.map((s) => ({ value: s, label: t(`office.bank_${s}`) })) }],
    columns: [
      { key: "office.booked_on", cell: (l) => day(l.booked_on) },
      { key: "office.payer", cell: (l) => [l.payer_name, l.payer_account].filter(Boolean).join(" · ") },
      { key: "office.reference", cell: (l) => l.reference || "" },
      { key: "office.amount", num: true, cell: (l) => money(l.amount_minor, l.currency) },
      { key: "office.customer", cell: (l) => customerLink(l.customer_id) },
      {
        key: "office.actions",
        cell: (l) =>
          l.status === "unmatched"
            ? h(
                "button",
                {
                  type: "button",
                  class: "btn btn-small",
                  dataset: { assign: l.id },
                  onclick: () => {
                    panelBox.replaceChildren(assignPanel(l, () => {
                      panelBox.replaceChildren();
                      queue.reload();
                    }));
                    panelBox.querySelector("input[type=search]")?.focus();
                  },
                },
                t("office.assign_or_ignore"),
              )
            : "",
      },
    ],
    load: pageOf("/payments/unmatched"),
    emptyKey: "office.queue_empty",
  });
  main.append(
    importForm((result) => {
      resultBox.replaceChildren(importResult(result));
      queue.reload();
    }),
    resultBox,
    queue.element,
    panelBox,
  );
  await queue.reload();
}

// ------------------------------------------------------------------ statements

export async function statementsView(main, _params, ctx) {
  setTitle("office.statements");
  main.append(...head("office.finance_title"));
  const customerId = ctx.query.get("customer") || "";
  const picker = customerPicker("office.customer", { value: customerId, label: ctx.query.get("name") || "" });
  picker.select.addEventListener("change", () => {
    if (picker.select.value && picker.select.value !== customerId) {
      const name = picker.select.selectedOptions[0]?.textContent || "";
      ctx.navigate(`finance/statements?customer=${picker.select.value}&name=${encodeURIComponent(name)}`, { replace: true });
    }
  });
  main.append(card(t("office.statements"), picker.element));
  if (customerId) main.append(statementPanel(customerId));
}
