// Log in: POST /auth/token, keep the token in sessionStorage, go to the role's app (or back where we came from).
import { api, appsOf, homeOf, session } from "../core/api.js";
import { h, keepingValues } from "../core/dom.js";
import { busy, clearErrors, field, showError } from "../core/forms.js";
import { onLangChange, t } from "../core/i18n.js";
import { initShell, setTitle } from "../core/shell.js";

function safeNext(role) {
  const next = new URLSearchParams(location.search).get("next");
  // Only a path of this site, and only into an app the role that logged in may use.
  const allowed = appsOf(role).some((app) => next === app || next?.startsWith(`${app}/`) || next?.startsWith(`${app}?`));
  if (next && allowed && !next.startsWith("//")) return next;
  return homeOf(role);
}

function render(main) {
  setTitle("login.title");
  const username = h("input", { name: "username", autocomplete: "username", required: true, autocapitalize: "none" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h(
    "form",
    { class: "card narrow", novalidate: true },
    h("h1", {}, t("login.title")),
    h("p", { class: "lead" }, t("login.lead")),
    field("login.username", username),
    field("login.password", password),
    h("button", { type: "submit", class: "btn btn-primary btn-block" }, t("login.submit")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!username.value.trim() || !password.value) {
      showError(form, { code: "login_missing", detail: t("errors.login_missing"), status: 400 });
      return;
    }
    busy(form, async () => {
      try {
        const answer = await api("/auth/token", {
          method: "POST",
          body: { username: username.value.trim(), password: password.value },
        });
        session.save(answer, username.value.trim());
        location.assign(safeNext(answer.role));
      } catch (error) {
        showError(form, error);
      }
    });
  });
  main.replaceChildren(
    form,
    h("p", { class: "small center" }, h("a", { href: "/schema" }, t("login.api_docs"))),
  );
  username.focus();
}

if (session.token && session.role) {
  location.replace(safeNext(session.role)); // already logged in in this tab
} else if (await initShell({ titleKey: "login.title" })) {
  const main = document.getElementById("main");
  render(main);
  onLangChange(() => keepingValues(main, () => render(main)));
}
