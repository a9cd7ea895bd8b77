// Bank statements: a CSV imported with its matching shown for review (matched lines are payments already), and
// the queue of lines nobody could match, each given to a customer or set aside.
import { api } from "../core/api.js";
import { day, h, money, number } from "../core/dom.js";
import { busy, checkRequired, clearErrors, field, showError } from "../core/forms.js";
import { has, t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { head } from "./finance.js";
import { confirmButton, customerLink, customerName, customerPicker, pageOf, pagedTable, progressBar } from "./kit.js";

const BANK_STATUSES = ["unmatched", "matched", "assigned", "ignored"];

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
