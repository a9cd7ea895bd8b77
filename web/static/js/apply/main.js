// Open an account online (no login): the company, its contact, the first user's login and the first delivery site
// with a pin on the map; a referral code from the sign-up link (`?ref=CODE`, e.g. an account manager's QR code) is
// filled in. POST /applications; an administrator approves it, and the company then logs in.
import { api } from "../core/api.js";
import { h, keepingValues } from "../core/dom.js";
import { busy, checkRequired, clearErrors, field, showError } from "../core/forms.js";
import { onLangChange, t } from "../core/i18n.js";
import { initShell, setTitle } from "../core/shell.js";
import { siteFields } from "../sites/site-fields.js";

const main = document.getElementById("main");
let picker = null;

function input(name, attrs = {}) {
  return h("input", { name, required: true, autocomplete: "off", ...attrs });
}

function done(application) {
  main.replaceChildren(
    h(
      "section",
      { class: "card narrow applied", id: "applied", role: "status" },
      h("h1", {}, t("apply.thanks_title")),
      h("p", {}, t("apply.thanks", { company: application.company_name })),
      h("p", { class: "muted" }, t("apply.next_step", { username: application.username })),
      h("a", { class: "btn btn-primary btn-block", href: "/app/login" }, t("apply.to_login")),
    ),
  );
  main.focus();
}

function render() {
  setTitle("apply.title");
  picker?.destroy();
  const ref = new URLSearchParams(location.search).get("ref") || "";
  const site = siteFields({ geocoder: false }); // the address search needs a login; the pin does not
  picker = site.picker;
  const referral = input("referral_code", { required: false, maxlength: 16, value: ref.toUpperCase(), autocapitalize: "characters" });
  const form = h(
    "form",
    { class: "form apply-form", novalidate: true },
    h("h1", {}, t("apply.title")),
    h("p", { class: "lead" }, t("apply.lead")),
    ref ? h("p", { class: "notice ok", id: "referred" }, t("apply.referred", { code: ref.toUpperCase() })) : null,
    h(
      "fieldset",
      { class: "card" },
      h("legend", {}, t("apply.company")),
      field("apply.company_name", input("company_name", { maxlength: 200, autocomplete: "organization" })),
      field("apply.tax_id", input("tax_id", { maxlength: 20, autocapitalize: "characters" }), { hint: "apply.tax_id_hint" }),
      field("apply.contact_name", input("contact_name", { maxlength: 120, autocomplete: "name" })),
      field("apply.contact_phone", input("contact_phone", { type: "tel", inputmode: "tel", autocomplete: "tel" })),
    ),
    h(
      "fieldset",
      { class: "card" },
      h("legend", {}, t("apply.login")),
      field("apply.username", input("username", { maxlength: 64, autocapitalize: "none", autocomplete: "username" })),
      field("apply.password", input("password", { type: "password", minlength: 10, autocomplete: "new-password" }), {
        hint: "apply.password_hint",
      }),
    ),
    h(
      "fieldset",
      { class: "card" },
      h("legend", {}, t("apply.first_site")),
      h("p", { class: "field-error", dataset: { errorFor: "site" } }),
      site.element,
    ),
    h("div", { class: "card" }, field("apply.referral_code", referral, { hint: "apply.referral_hint" })),
    h("button", { type: "submit", class: "btn btn-primary btn-block btn-big" }, t("apply.submit")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!checkRequired(form)) return;
    const value = (name) => form.querySelector(`[name="${name}"]`).value.trim();
    const body = {
      company_name: value("company_name"),
      tax_id: value("tax_id"),
      contact_name: value("contact_name"),
      contact_phone: value("contact_phone"),
      username: value("username"),
      password: form.querySelector("[name=password]").value,
      site: site.body(),
    };
    if (referral.value.trim()) body.referral_code = referral.value.trim();
    busy(form, async () => {
      try {
        done(await api("/applications", { method: "POST", body }));
      } catch (error) {
        showError(form, error);
      }
    });
  });
  main.replaceChildren(form, h("p", { class: "small center" }, h("a", { href: "/app/login" }, t("apply.have_login"))));
}

if (await initShell({ titleKey: "apply.title", nav: [{ href: "/app/login", key: "apply.log_in" }] })) {
  render();
  onLangChange(() => {
    if (!document.getElementById("applied")) keepingValues(main, render);
  });
}
