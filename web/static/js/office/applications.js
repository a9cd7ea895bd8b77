// Online applications: the list by status, one application reviewed, approved with a credit limit (and an
// account manager where the server has them) or rejected with a reason.
import { api } from "../core/api.js";
import { dateTime, h, litres, money } from "../core/dom.js";
import { busy, checkRequired, clearErrors, field, showError } from "../core/forms.js";
import { has, t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { details, errorState, pageHeader } from "../core/ui.js";
import { BASE, card, moneyInput, pageOf, pagedTable, readMinor } from "./kit.js";

const STATUSES = ["pending", "approved", "rejected"];
const TONE = { pending: "warn", approved: "ok", rejected: "muted" };

function statusChip(status) {
  const key = `office.application_${status}`;
  return h("span", { class: `chip chip-${TONE[status] || "neutral"}`, dataset: { status } }, has(key) ? t(key) : status);
}

export async function applicationsView(main, _params, ctx) {
  setTitle("office.applications_title");
  main.append(pageHeader("office.applications_title"));
  const table = pagedTable({
    title: t("office.applications_title"),
    query: ctx.query,
    filters: [
      {
        name: "status",
        key: "office.status",
        type: "select",
        options: STATUSES.map((s) => ({ value: s, label: t(`office.application_${s}`) })),
      },
    ],
    columns: [
      { key: "office.received", cell: (a) => dateTime(a.created_at) },
      { key: "office.company", cell: (a) => h("a", { href: `${BASE}/applications/${a.id}` }, a.company_name) },
      { key: "office.tax_id", cell: (a) => a.tax_id },
      { key: "office.contact", cell: (a) => `${a.contact_name} · ${a.contact_phone}` },
      { key: "office.username", cell: (a) => a.username },
      { key: "office.status", cell: (a) => statusChip(a.status) },
    ],
    load: pageOf("/applications"),
    emptyKey: "office.no_applications",
  });
  main.append(table.element);
  await table.reload();
}

/** The active account managers to choose from (GET /users?manager=true); none when the list cannot be read. */
async function managers() {
  try {
    const answer = await api("/users?manager=true&active=true&limit=500");
    return answer.items.length ? answer.items : null;
  } catch {
    return null;
  }
}

function approveForm(application, ctx, managerList) {
  const limit = moneyInput("credit_limit_minor", { placeholder: "50000.00" });
  const manager = managerList
    ? h(
        "select",
        { name: "manager_id" },
        h("option", { value: "" }, t("office.no_manager")),
        managerList.map((m) => h("option", { value: m.id || m.user_id }, m.display_name || m.name || m.username)),
      )
    : null;
  const form = h(
    "form",
    { class: "card form", id: "approve", novalidate: true },
    h("h2", {}, t("office.approve")),
    field("office.credit_limit", limit, { hint: "office.credit_limit_hint" }),
    manager ? field("office.manager", manager) : null,
    h("button", { type: "submit", class: "btn btn-primary" }, t("office.approve_open_account")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!checkRequired(form)) return;
    let body;
    try {
      body = { credit_limit_minor: readMinor(limit) };
    } catch (error) {
      showError(form, error);
      return;
    }
    if (manager?.value) body.manager_id = manager.value;
    busy(form, async () => {
      try {
        const decided = await api(`/applications/${application.id}/approve`, { method: "POST", body });
        banner(t("office.approved", { company: decided.company_name, limit: money(body.credit_limit_minor) }), "ok");
        ctx.navigate(decided.customer_id ? `customers/${decided.customer_id}` : "applications");
      } catch (error) {
        showError(form, error);
      }
    });
  });
  return form;
}

function rejectForm(application, ctx) {
  const reason = h("textarea", { name: "reason", rows: 3, maxlength: 2000, required: true });
  const form = h(
    "form",
    { class: "card form", id: "reject", novalidate: true },
    h("h2", {}, t("office.reject")),
    field("office.reject_reason", reason),
    h("button", { type: "submit", class: "btn btn-danger" }, t("office.reject")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!checkRequired(form)) return;
    busy(form, async () => {
      try {
        await api(`/applications/${application.id}/reject`, { method: "POST", body: { reason: reason.value.trim() } });
        banner(t("office.rejected", { company: application.company_name }), "ok");
        ctx.navigate("applications?status=pending");
      } catch (error) {
        showError(form, error);
      }
    });
  });
  return form;
}

export async function applicationView(main, [id], ctx) {
  setTitle("office.application_title");
  let application;
  try {
    application = await api(`/applications/${id}`);
  } catch (error) {
    main.append(pageHeader("office.application_title"), errorState(error));
    return;
  }
  const managerList = application.status === "pending" ? await managers() : null;
  if (!ctx.isCurrent()) return;
  const site = application.site;
  main.append(
    pageHeader("office.application_of", { company: application.company_name }, statusChip(application.status)),
    h(
      "div",
      { class: "columns" },
      card(
        t("office.applicant"),
        details([
          ["office.company", application.company_name],
          ["office.tax_id", application.tax_id],
          ["office.contact", application.contact_name],
          ["office.phone", application.contact_phone],
          ["office.username", application.username],
          ["office.received", dateTime(application.created_at)],
          ["office.referred", application.referred_by_id ? t("office.yes") : ""],
          ["office.reject_reason", application.reason || ""],
        ]),
      ),
      card(
        t("office.first_site"),
        details([
          ["office.site_name", site.name],
          ["office.address", site.address],
          ["office.tank", litres(site.tank_capacity_litres)],
          ["office.receiving_hours", site.receiving_hours.map((e) => `${e.days.join(",")} ${e.open}–${e.close}`).join("; ")],
          ["office.location", `${site.lat.toFixed(5)}, ${site.lon.toFixed(5)}`],
        ]),
      ),
    ),
    application.status === "pending"
      ? h("div", { class: "columns" }, approveForm(application, ctx, managerList), rejectForm(application, ctx))
      : application.customer_id
        ? h("p", {}, h("a", { class: "btn", href: `${BASE}/customers/${application.customer_id}` }, t("office.open_customer")))
        : null,
  );
}
