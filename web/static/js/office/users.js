// Users and roles: staff with rack operators' depots, drivers' accounts beside their driver records, customers'
// users; a user created, renamed, given another role or depots, deactivated or given a new password.
import { api, allPages } from "../core/api.js";
import { loadDepots } from "../core/catalogue.js";
import { dateTime, day, h } from "../core/dom.js";
import { busy, checkRequired, clearErrors, field, showError } from "../core/forms.js";
import { has, t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { details, errorState, pageHeader } from "../core/ui.js";
import { auditTable } from "./audit.js";
import { BASE, card, confirmButton, customerLink, isoToday, pageOf, pagedTable } from "./kit.js";

const STAFF_ROLES = ["admin", "finance", "dispatcher", "driver", "rack_operator"];
// A role change never turns a customer's user into staff or back, and finance is given at creation.
const CHANGEABLE = ["admin", "dispatcher", "driver", "rack_operator"];

export function roleName(role) {
  return has(`roles.${role}`) ? t(`roles.${role}`) : role;
}

function activeChip(user) {
  return user.is_active
    ? h("span", { class: "chip chip-ok", dataset: { active: "true" } }, t("office.active"))
    : h("span", { class: "chip chip-muted", dataset: { active: "false" } }, t("office.inactive"));
}

function depotChecks(depots, chosen = []) {
  return h(
    "fieldset",
    { class: "field depot-checks" },
    h("legend", {}, t("office.rack_depots")),
    depots.map((d) => {
      const id = `depot-${d.id}`;
      return h("div", { class: "checkbox" }, h("input", { type: "checkbox", name: "depot_ids", value: d.id, id, checked: chosen.includes(d.id) }), h("label", { for: id }, d.name));
    }),
    h("p", { class: "field-error", dataset: { errorFor: "depot_ids" } }),
  );
}

function chosenDepots(form) {
  return [...form.querySelectorAll("input[name=depot_ids]:checked")].map((c) => c.value);
}

function userTabs(role) {
  const items = [
    ["", "office.all_users"],
    ["admin", "office.staff_admins"],
    ["finance", "office.staff_finance"],
    ["dispatcher", "office.staff_dispatchers"],
    ["rack_operator", "office.staff_rack"],
    ["driver", "office.drivers_accounts"],
    ["customer", "office.customer_users"],
  ];
  return h(
    "nav",
    { class: "tabs", "aria-label": t("office.user_kinds") },
    items.map(([value, key]) => h("a", { href: `${BASE}/users${value ? `?role=${value}` : ""}`, "aria-current": value === role ? "page" : false }, t(key))),
  );
}

function newUserForm(depots, ctx) {
  const username = h("input", { name: "username", autocomplete: "off", required: true, pattern: "[A-Za-z0-9_.\\-]{3,64}" });
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 10 });
  const role = h("select", { name: "role" }, STAFF_ROLES.map((r) => h("option", { value: r, selected: r === (ctx.query.get("role") || "dispatcher") }, roleName(r))));
  const name = h("input", { name: "display_name", maxlength: 120, autocomplete: "off" });
  const checks = depotChecks(depots);
  const showDepots = () => (checks.hidden = role.value !== "rack_operator");
  role.addEventListener("change", showDepots);
  showDepots();
  const form = h(
    "form",
    { class: "card form", id: "new-user", novalidate: true },
    h("h2", {}, t("office.new_user")),
    h("div", { class: "row" }, field("office.username", username), field("office.password", password, { hint: "office.password_hint" })),
    h("div", { class: "row" }, field("office.role", role), field("office.display_name", name)),
    checks,
    h("button", { type: "submit", class: "btn btn-primary" }, t("office.create_user")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!checkRequired(form)) return;
    const body = { username: username.value.trim(), password: password.value, role: role.value };
    if (name.value.trim()) body.display_name = name.value.trim();
    if (role.value === "rack_operator") body.depot_ids = chosenDepots(form);
    busy(form, async () => {
      try {
        const user = await api("/users", { method: "POST", body });
        banner(t("office.user_created", { username: user.username }), "ok");
        ctx.navigate(`users/${user.id}`);
      } catch (error) {
        showError(form, error);
      }
    });
  });
  return form;
}

export async function usersView(main, _params, ctx) {
  setTitle("office.users_title");
  const role = ctx.query.get("role") || "";
  main.append(pageHeader("office.users_title"), userTabs(role));
  let depots = [];
  let drivers = [];
  try {
    [depots, drivers] = await Promise.all([loadDepots(), role === "driver" ? allPages("/drivers").catch(() => []) : []]);
  } catch (error) {
    main.append(errorState(error));
    return;
  }
  if (!ctx.isCurrent()) return;
  const depotName = Object.fromEntries(depots.map((d) => [d.id, d.name]));
  const driverOf = Object.fromEntries(drivers.filter((d) => d.user_id).map((d) => [d.user_id, d]));
  const fixedRole = role ? { role } : {};
  const table = pagedTable({
    title: role ? t("office.users_of_role", { role: roleName(role) }) : t("office.users_title"),
    query: ctx.query,
    filters: [
      { name: "q", key: "office.search", type: "search", placeholderKey: "office.search_user_hint" },
      { name: "active", key: "office.activity", type: "select", options: [{ value: "true", label: t("office.active") }, { value: "false", label: t("office.inactive") }] },
    ],
    columns: [
      { key: "office.username", cell: (u) => h("a", { href: `${BASE}/users/${u.id}`, class: "user-link" }, u.username) },
      { key: "office.display_name", cell: (u) => u.display_name || "" },
      { key: "office.role", cell: (u) => roleName(u.role) },
      role === "driver"
        ? { key: "office.driver_record", cell: (u) => (driverOf[u.id] ? `${driverOf[u.id].name} · ${t("office.licence_until", { day: day(driverOf[u.id].hazmat_licence_expires) })}` : t("office.no_driver_record")) }
        : { key: "office.depots_or_account", cell: (u) => (u.depot_ids ? u.depot_ids.map((id) => depotName[id] || id).join(", ") || t("office.no_depots") : customerLink(u.customer_id)) },
      { key: "office.status", cell: activeChip },
      { key: "office.created", cell: (u) => dateTime(u.created_at) },
    ],
    load: ({ limit, offset, filters }) => pageOf("/users")({ limit, offset, filters: { ...filters, ...fixedRole } }),
    csv: {
      filename: () => `users-${role || "all"}-${isoToday()}.csv`,
      columns: [
        [t("office.username"), (u) => u.username],
        [t("office.display_name"), (u) => u.display_name],
        [t("office.role"), (u) => roleName(u.role)],
        [t("office.phone"), (u) => u.phone],
        [t("office.rack_depots"), (u) => (u.depot_ids || []).map((id) => depotName[id] || id).join("; ")],
        [t("office.status"), (u) => (u.is_active ? t("office.active") : t("office.inactive"))],
        [t("office.created"), (u) => u.created_at],
      ],
    },
    emptyKey: "office.no_users",
  });
  main.append(table.element, role === "customer" ? null : newUserForm(depots, ctx));
  await table.reload();
}

// ------------------------------------------------------------------ one user

function editForm(user, ctx) {
  const name = h("input", { name: "display_name", maxlength: 120, value: user.display_name || "" });
  const phone = h("input", { name: "phone", maxlength: 32, value: user.phone || "", type: "tel" });
  const role = CHANGEABLE.includes(user.role)
    ? h("select", { name: "role" }, CHANGEABLE.map((r) => h("option", { value: r, selected: r === user.role }, roleName(r))))
    : null;
  const form = h(
    "form",
    { class: "card form", id: "edit-user", novalidate: true },
    h("h2", {}, t("office.edit_user")),
    field("office.display_name", name),
    field("office.phone", phone),
    role ? field("office.role", role, { hint: "office.role_hint" }) : null,
    h("button", { type: "submit", class: "btn btn-primary" }, t("office.save")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = { display_name: name.value.trim(), phone: phone.value.trim() };
    if (role && role.value !== user.role) body.role = role.value;
    busy(form, async () => {
      try {
        await api(`/users/${user.id}`, { method: "PUT", body });
        banner(body.role ? t("office.role_changed", { role: roleName(body.role) }) : t("office.saved"), "ok");
        ctx.navigate(`users/${user.id}`, { replace: true });
      } catch (error) {
        showError(form, error);
      }
    });
  });
  return form;
}

function depotsForm(user, depots, ctx) {
  const form = h(
    "form",
    { class: "card form", id: "user-depots", novalidate: true },
    h("h2", {}, t("office.rack_depots")),
    depotChecks(depots, user.depot_ids || []),
    h("button", { type: "submit", class: "btn btn-primary" }, t("office.save_depots")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    busy(form, async () => {
      try {
        await api(`/users/${user.id}/depots`, { method: "PUT", body: { depot_ids: chosenDepots(form) } });
        banner(t("office.saved"), "ok");
        ctx.navigate(`users/${user.id}`, { replace: true });
      } catch (error) {
        showError(form, error);
      }
    });
  });
  return form;
}

function passwordForm(user) {
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 10 });
  const form = h(
    "form",
    { class: "card form", id: "reset-password", novalidate: true },
    h("h2", {}, t("office.reset_password")),
    h("p", { class: "hint" }, t("office.reset_password_hint")),
    field("office.new_password", password, { hint: "office.password_hint" }),
    h("button", { type: "submit", class: "btn btn-danger-outline btn" }, t("office.reset_password")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!checkRequired(form)) return;
    busy(form, async () => {
      try {
        await api(`/users/${user.id}`, { method: "PUT", body: { password: password.value } });
        password.value = "";
        banner(t("office.password_reset", { username: user.username }), "ok");
      } catch (error) {
        showError(form, error);
      }
    });
  });
  return form;
}

function activityBox(user, ctx) {
  const box = h("div", { class: "card form", id: "user-activity" }, h("h2", {}, t("office.activity")));
  const message = h("p", { class: "form-error", role: "alert", hidden: true });
  const change = async (isActive) => {
    try {
      await api(`/users/${user.id}`, { method: "PUT", body: { is_active: isActive } });
      banner(t(isActive ? "office.user_reactivated" : "office.user_deactivated", { username: user.username }), "ok");
      ctx.navigate(`users/${user.id}`, { replace: true });
    } catch (error) {
      showError(box, error);
    }
  };
  box.append(
    message,
    h("p", { class: "hint" }, t(user.is_active ? "office.deactivate_hint" : "office.reactivate_hint")),
    user.is_active
      ? confirmButton("office.deactivate", "office.confirm_deactivate", () => change(false), { kind: "btn btn-danger" })
      : h("button", { type: "button", class: "btn", onclick: () => change(true) }, t("office.reactivate")),
  );
  return box;
}

export async function userView(main, [id], ctx) {
  setTitle("office.user");
  let user;
  let depots;
  try {
    [user, depots] = await Promise.all([api(`/users/${id}`), loadDepots()]);
  } catch (error) {
    main.append(pageHeader("office.user"), errorState(error));
    return;
  }
  if (!ctx.isCurrent()) return;
  const depotName = Object.fromEntries(depots.map((d) => [d.id, d.name]));
  const audit = auditTable({ fixed: { subject_id: user.id } });
  main.append(
    pageHeader("office.user_of", { username: user.username }, activeChip(user)),
    h(
      "div",
      { class: "columns" },
      card(
        t("office.user"),
        details([
          ["office.username", user.username],
          ["office.display_name", user.display_name || ""],
          ["office.role", roleName(user.role)],
          ["office.phone", user.phone || ""],
          ["office.customer", user.customer_id ? customerLink(user.customer_id) : ""],
          ["office.rack_depots", user.depot_ids ? user.depot_ids.map((d) => depotName[d] || d).join(", ") || t("office.no_depots") : ""],
          ["office.created", dateTime(user.created_at)],
        ]),
      ),
      editForm(user, ctx),
    ),
    h("div", { class: "columns" }, user.role === "rack_operator" ? depotsForm(user, depots, ctx) : null, passwordForm(user), activityBox(user, ctx)),
    audit.element,
  );
  await audit.reload();
}
