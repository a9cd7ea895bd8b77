// Finance: invoice runs with their progress and statements; the tabs of every finance page. Invoices and credit
// notes (invoices.js), payments (payments.js) and bank statements (bank.js) have their own modules.
import { api } from "../core/api.js";
import { dateTime, day, h, isoDay, number } from "../core/dom.js";
import { busy, checkRequired, clearErrors, field, showError } from "../core/forms.js";
import { has, t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { pageHeader } from "../core/ui.js";
import { card, customerLink, customerPicker, pageOf, pagedTable, poll, progressBar, tabs } from "./kit.js";
import { statementPanel } from "./money-ui.js";

const RUN_TONE = { queued: "neutral", running: "info", succeeded: "ok", failed: "bad" };

export function financeTabs() {
  return tabs("office.finance_parts", [
    { path: "finance", key: "office.invoice_runs" },
    { path: "finance/invoices", key: "office.invoices" },
    { path: "finance/payments", key: "office.payments" },
    { path: "finance/bank", key: "office.bank" },
    { path: "finance/statements", key: "office.statements" },
  ]);
}

export function head(titleKey, params) {
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
