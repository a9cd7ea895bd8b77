// The account: what the customer owes and may still spend (GET /me/balance), its discount tier and yearly volume,
// its invoices (PDF) and its monthly statements (PDF), downloaded with the bearer token.
import { api } from "../core/api.js";
import { day, h, money, tonnes } from "../core/dom.js";
import { errorText } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { setTitle } from "../core/shell.js";
import { details, emptyState, errorState, pageHeader, statusChip } from "../core/ui.js";
import { can, loadMe } from "./roles.js";

const STATEMENT_MONTHS = 12;

/** Download a file the API serves behind the login: fetched as a blob, handed to the browser as a named file. */
async function download(path, filename, button) {
  const error = button.parentElement.querySelector(".field-error");
  button.setAttribute("aria-disabled", "true");
  try {
    const blob = await api(path, { as: "blob", headers: { Accept: "application/pdf" } });
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: filename, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    if (error) error.textContent = "";
  } catch (err) {
    if (error) error.textContent = errorText(err);
  } finally {
    button.removeAttribute("aria-disabled");
  }
}

function downloadButton(path, filename, labelKey, params) {
  const button = h("button", { type: "button", class: "btn btn-small", dataset: { download: filename } }, t(labelKey, params));
  button.addEventListener("click", () => download(path, filename, button));
  return h("span", { class: "download" }, button, h("span", { class: "field-error", role: "alert" }));
}

function balanceCard(balance, account) {
  const currency = balance.currency;
  return h(
    "section",
    { class: "card account-balance", "aria-labelledby": "balance-title" },
    h("h2", { id: "balance-title" }, t("account.balance")),
    h(
      "p",
      { class: "total" },
      h("span", {}, t("account.available")),
      h("strong", { id: "available" }, money(balance.available_minor, currency)),
    ),
    details([
      ["account.credit_limit", money(balance.credit_limit_minor, currency)],
      ["account.open_orders", money(balance.open_orders_minor, currency)],
      ["account.uninvoiced", money(balance.uninvoiced_minor, currency)],
      ["account.unpaid_invoices", money(balance.unpaid_invoices_minor, currency)],
      ["account.prepaid", balance.prepaid_minor ? money(balance.prepaid_minor, currency) : ""],
      ["account.billing", t(`account.period_${balance.billing_period}`, { days: balance.payment_terms_days })],
      ["account.payment_code", balance.payment_code],
      ["account.tier", t("account.tier_value", { tier: account.tier, volume: tonnes(account.yearly_volume_kg) })],
    ]),
    h("p", { class: "hint" }, t("account.payment_code_hint")),
  );
}

function invoiceRow(invoice) {
  return h(
    "li",
    { class: "list-item list-row invoice", dataset: { number: invoice.number } },
    h(
      "span",
      { class: "list-main" },
      h("strong", {}, invoice.number),
      statusChip(invoice.status),
    ),
    h(
      "span",
      { class: "list-sub" },
      `${day(invoice.issue_date)} · ${money(invoice.total_minor, invoice.currency)} · ${t("account.due", { date: day(invoice.due_date) })}`,
    ),
    invoice.outstanding_minor
      ? h("span", { class: "list-sub" }, t("account.outstanding", { amount: money(invoice.outstanding_minor, invoice.currency) }))
      : null,
    downloadButton(`/invoices/${invoice.id}.pdf`, `${invoice.number}.pdf`, "account.invoice_pdf"),
  );
}

/** The months whose statements exist: from the account's first month to this one, the latest first. */
function statementMonths(createdAt) {
  const months = [];
  const first = new Date(createdAt);
  const cursor = new Date();
  cursor.setUTCDate(1);
  while (months.length < STATEMENT_MONTHS) {
    const y = cursor.getUTCFullYear();
    const m = cursor.getUTCMonth();
    months.push(`${y}-${String(m + 1).padStart(2, "0")}`);
    if (y < first.getUTCFullYear() || (y === first.getUTCFullYear() && m <= first.getUTCMonth())) break;
    cursor.setUTCMonth(m - 1);
  }
  return months;
}

export async function accountView(main, _params, ctx) {
  setTitle("account.title");
  main.append(pageHeader("account.title"));
  let me;
  let account;
  let balance;
  let invoices;
  try {
    me = await loadMe();
    // Invoices and statements are finance's, the viewers' and the admins': not an orderer's (customer/roles.js).
    [account, balance, invoices] = await Promise.all([
      api(`/customers/${me.customer.id}`),
      can("balance") ? api("/me/balance") : null,
      can("money") ? api("/invoices?limit=50") : null,
    ]);
  } catch (error) {
    main.append(errorState(error, () => ctx.navigate("account", { replace: true })));
    return;
  }
  if (!ctx.isCurrent()) return;
  main.append(h("p", { class: "lead" }, account.name));
  if (balance) main.append(balanceCard(balance, account));
  if (!invoices) return;
  main.append(
    h(
      "section",
      { class: "card", "aria-labelledby": "invoices-title" },
      h("h2", { id: "invoices-title" }, t("account.invoices")),
      invoices.items.length ? h("ul", { class: "list", id: "invoices" }, invoices.items.map(invoiceRow)) : emptyState("account.no_invoices"),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "statements-title" },
      h("h2", { id: "statements-title" }, t("account.statements")),
      h(
        "ul",
        { class: "list statements", id: "statements" },
        statementMonths(account.created_at).map((month) =>
          h(
            "li",
            { class: "list-item list-row" },
            h("span", { class: "list-main" }, h("strong", {}, month)),
            downloadButton(
              `/customers/${account.id}/statements/${month}.pdf`,
              `statement-${month}.pdf`,
              "account.statement_pdf",
            ),
          ),
        ),
      ),
    ),
  );
}
