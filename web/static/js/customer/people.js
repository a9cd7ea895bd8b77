// The account's people: orders awaiting approval (approve or reject, for the account's approvers and admins) and,
// for the account's admins, its users with their roles and approval limits, and a form to add one.
import { api } from "../core/api.js";
import { day, h, litres, money } from "../core/dom.js";
import { IdempotencyKeys, checkRequired, clearErrors, errorText, field, select, showError } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { setTitle } from "../core/shell.js";
import { emptyState, errorState, pageHeader } from "../core/ui.js";
import { can } from "./roles.js";

const ROLES = ["orderer", "approver", "finance", "viewer", "account_admin"];
const LIMITED = new Set(["orderer", "approver"]);

function limitText(person) {
  if (!LIMITED.has(person.customer_role)) return "";
  return person.approval_limit_minor === null ? t("people.no_limit") : money(person.approval_limit_minor);
}

function waitingRow(order, reload) {
  const note = h("p", { class: "field-error", role: "alert" });
  async function decide(action) {
    note.textContent = "";
    try {
      await api(`/orders/${order.id}/${action}`, { method: "POST", body: {} });
      await reload();
    } catch (error) {
      note.textContent = errorText(error);
    }
  }
  return h(
    "li",
    { class: "list-item", dataset: { order: order.id } },
    h(
      "a",
      { href: `/app/customer/orders/${order.id}`, class: "list-link" },
      h("span", { class: "list-main" }, h("strong", {}, order.reference), money(order.price.amount_minor, order.price.currency)),
      h("span", { class: "list-sub" }, `${day(order.delivery_date)} ${order.window_start}–${order.window_end} · ${litres(order.quantity_litres)}`),
    ),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "btn btn-primary", onclick: () => decide("approve") }, t("people.approve")),
      h("button", { type: "button", class: "btn", onclick: () => decide("reject") }, t("people.reject")),
    ),
    note,
  );
}

async function approvalsSection(main, ctx) {
  const section = h("section", { class: "card", "aria-labelledby": "approvals-title" }, h("h2", { id: "approvals-title" }, t("people.approvals")));
  const list = h("ul", { class: "list", "aria-live": "polite" });
  section.append(list);
  main.append(section);
  async function reload() {
    const page = await api("/orders?status=awaiting_approval&limit=100");
    if (!ctx.isCurrent()) return;
    list.replaceChildren(...(page.items.length ? page.items.map((o) => waitingRow(o, reload)) : [h("li", { class: "muted" }, t("people.approvals_none"))]));
  }
  try {
    await reload();
  } catch (error) {
    if (error.status === 403) section.remove();
    else section.append(errorState(error));
  }
}

function personRow(person) {
  return h(
    "li",
    { class: "list-item", dataset: { username: person.username } },
    h("span", { class: "list-main" }, h("strong", {}, person.username), t(`customer_roles.${person.customer_role}`)),
    h("span", { class: "list-sub muted" }, [person.display_name, limitText(person), person.is_active ? "" : t("people.inactive")].filter(Boolean).join(" · ")),
  );
}

function addForm(onAdded) {
  const role = select("customer_role", ROLES.map((r) => ({ value: r, label: t(`customer_roles.${r}`) })), { value: "orderer" });
  const limit = h("input", { name: "approval_limit_minor", type: "number", min: "0", step: "0.01", inputmode: "decimal" });
  const limitField = field("people.limit", limit, { hint: "people.limit_hint" });
  role.addEventListener("change", () => {
    limitField.hidden = !LIMITED.has(role.value);
  });
  const form = h(
    "form",
    { class: "form", novalidate: true },
    field("people.username", h("input", { name: "username", required: true, autocomplete: "off", minlength: 3, maxlength: 64 })),
    field("people.password", h("input", { name: "password", type: "password", required: true, autocomplete: "new-password", minlength: 10 })),
    field("people.role", role),
    limitField,
    h("button", { type: "submit", class: "btn btn-primary" }, t("people.add")),
  );
  // One key per person being added: a retry after a lost answer gets the person made, not a second one.
  let keys = new IdempotencyKeys();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!checkRequired(form)) return;
    const body = { username: form.username.value.trim(), password: form.password.value, customer_role: role.value };
    if (LIMITED.has(role.value) && limit.value !== "") body.approval_limit_minor = Math.round(Number(limit.value) * 100);
    try {
      await api("/me/users", { method: "POST", body, headers: { "Idempotency-Key": keys.keyFor(body) } });
      keys = new IdempotencyKeys();
      form.reset();
      role.value = "orderer";
      limitField.hidden = false;
      await onAdded();
    } catch (error) {
      showError(form, error);
    }
  });
  return form;
}

async function usersSection(main, ctx) {
  const list = h("ul", { class: "list", "aria-live": "polite" });
  const section = h(
    "section",
    { class: "card", "aria-labelledby": "people-title" },
    h("h2", { id: "people-title" }, t("people.users")),
    list,
  );
  async function reload() {
    const page = await api("/me/users?limit=200");
    if (!ctx.isCurrent()) return;
    list.replaceChildren(...page.items.map(personRow));
  }
  try {
    await reload();
  } catch (error) {
    if (error.status !== 403) main.append(errorState(error));
    return; // not the account's admin: its people are not shown
  }
  section.append(h("h3", {}, t("people.add_title")), addForm(reload));
  main.append(section);
}

export async function peopleView(main, _params, ctx) {
  setTitle("people.title");
  main.append(pageHeader("people.title"));
  if (can("approve")) await approvalsSection(main, ctx);
  if (!ctx.isCurrent()) return;
  if (can("people")) await usersSection(main, ctx);
  if (!main.querySelector("section")) main.append(emptyState("people.nothing"));
}
