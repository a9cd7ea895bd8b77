// Payments: recorded with an Idempotency-Key (a double click or a retry records one), listed with the Excel
// export, and allocated to open invoices.
import { api } from "../core/api.js";
import { dateTime, day, h, isoDay, money } from "../core/dom.js";
import { IdempotencyKeys, busy, checkRequired, clearErrors, field, showError } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { details, errorState, pageHeader } from "../core/ui.js";
import { financeTabs, head } from "./finance.js";
import { BASE, card, customerLink, customerPicker, moneyInput, qs, readMinor, toYuan } from "./kit.js";
import { PAYMENT_METHODS, methodName, paymentsTable } from "./money-ui.js";

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
