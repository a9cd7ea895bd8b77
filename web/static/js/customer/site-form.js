// Add or change a delivery site: name, address (searched when the server has a geocoder), a pin on the map, the
// tank and the receiving hours. POST /sites or PUT /sites/{id}; refusals appear next to their field.
import { api } from "../core/api.js";
import { loadDepots } from "../core/catalogue.js";
import { h } from "../core/dom.js";
import { busy, checkRequired, clearErrors, showError } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { errorState, pageHeader } from "../core/ui.js";
import { siteFields } from "../sites/site-fields.js";

async function geocoderEnabled() {
  try {
    return (await api("/geocode/status")).enabled;
  } catch {
    return false; // no search box: the pin on the map still places the site
  }
}

export async function siteFormView(main, [id], ctx) {
  const editing = Boolean(id);
  setTitle(editing ? "site.edit_title" : "site.new_title");
  main.append(pageHeader(editing ? "site.edit_title" : "site.new_title"));
  let site = null;
  let depots = [];
  let geocoder = false;
  try {
    [site, depots, geocoder] = await Promise.all([
      editing ? api(`/sites/${id}`) : null,
      loadDepots().catch(() => []),
      geocoderEnabled(),
    ]);
  } catch (error) {
    main.append(errorState(error, () => ctx.navigate(editing ? `sites/${id}` : "sites/new", { replace: true })));
    return undefined;
  }
  if (!ctx.isCurrent()) return undefined;
  const fields = siteFields({ site, depots, geocoder });
  const form = h(
    "form",
    { class: "card form site-form", novalidate: true },
    fields.element,
    h("button", { type: "submit", class: "btn btn-primary btn-block" }, t(editing ? "site.save" : "site.add")),
  );
  main.append(form, h("a", { class: "btn", href: "/app/customer" }, t("common.back")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!checkRequired(form)) return;
    busy(form, async () => {
      try {
        const body = fields.body();
        const saved = editing
          ? await api(`/sites/${id}`, { method: "PUT", body })
          : await api("/sites", { method: "POST", body });
        banner(t(editing ? "site.saved" : "site.added", { name: saved.name }), "ok");
        ctx.navigate("/app/customer");
      } catch (error) {
        showError(form, error);
      }
    });
  });
  return () => fields.picker.destroy();
}
