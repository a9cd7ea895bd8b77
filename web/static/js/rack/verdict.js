// The big answer (authorised in green / refused in red, with reasons in words) and the loading form.
import { productLabel } from "../core/catalogue.js";
import { h, litres } from "../core/dom.js";
import { busy, checkRequired, clearErrors, field, showError } from "../core/forms.js";
import { has, t } from "../core/i18n.js";
import { details } from "../core/ui.js";

function reasonText(verdict, code, index) {
  if (has(`reasons.${code}`)) return t(`reasons.${code}`);
  return verdict.reason_texts?.[index] || code;
}

/** The verdict panel. role=alert: a screen reader says it at once. */
export async function verdictPanel(verdict) {
  const ok = verdict.authorised;
  const load = verdict.what_to_load;
  const subject = verdict.subject || {};
  const facts = ok
    ? details([
        ["rack.what_to_load", load ? `${(await Promise.all(load.products.map(productLabel))).join(", ")}` : ""],
        ["rack.max", load ? litres(load.max_litres) : ""],
        ["pickup.plate", load?.vehicle_plate || ""],
        ["pickup.reference", subject.reference || ""],
        ["pickup.driver", subject.driver_name || ""],
      ])
    : null;
  return h(
    "section",
    { class: `verdict ${ok ? "verdict-ok" : "verdict-bad"}`, role: "alert", dataset: { verdict: ok ? "authorised" : "refused" } },
    h("p", { class: "verdict-word" }, h("span", { class: "verdict-icon", "aria-hidden": "true" }, ok ? "✓" : "✗"), t(ok ? "rack.authorised" : "rack.refused")),
    ok ? null : h("ul", { class: "reasons" }, verdict.reasons.map((code, i) => h("li", { dataset: { reason: code } }, reasonText(verdict, code, i)))),
    facts,
    verdict.offline ? h("p", { class: "verdict-note" }, t("rack.checked_offline")) : null,
  );
}

/** The loading form; `onSubmit({litres, temperature, plate})` records it and may throw an ApiError to show. */
export function loadingForm(verdict, onSubmit) {
  const observed = h("input", { name: "loaded_litres_observed", type: "number", inputmode: "numeric", min: "1", required: true });
  const temperature = h("input", { name: "temperature_c", type: "number", inputmode: "decimal", step: "0.1", min: "-50", max: "150", required: true });
  const plate = h("input", {
    name: "vehicle_plate",
    required: true,
    autocomplete: "off",
    autocapitalize: "characters",
    value: verdict.what_to_load?.vehicle_plate || "",
  });
  const form = h(
    "form",
    { class: "card form loading-form", novalidate: true, "aria-labelledby": "loading-title" },
    h("h2", { id: "loading-title" }, t("rack.loading_title")),
    h("div", { class: "row" }, field("rack.observed", observed, { hint: "rack.observed_hint" }), field("rack.temperature", temperature)),
    field("pickup.plate", plate),
    h("button", { type: "submit", class: "btn btn-primary btn-block btn-big" }, t("rack.redeem")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!checkRequired(form)) return;
    busy(form, async () => {
      try {
        await onSubmit({
          litres: Number.parseInt(observed.value, 10),
          temperature: Number.parseFloat(temperature.value),
          plate: plate.value.trim(),
        });
      } catch (error) {
        if (error?.code === "not_authorised" && error.reasons?.length) {
          // The reasons in words, in the chosen language, rather than the server's English summary.
          const words = error.reasons.map((r, i) => reasonText({ reason_texts: [] }, r, i)).join(" ");
          showError(form, { code: "not_authorised_reasons", status: error.status, detail: words });
        } else {
          showError(form, error);
        }
      }
    });
  });
  return form;
}
