// Labelled fields, and the API's refusals shown in plain words next to the field they are about.
import { h, uid } from "./dom.js";
import { currentLang, has, t } from "./i18n.js";

/**
 * A labelled control: field("order.quantity", h("input", {name: "quantity_litres", ...}), {hint: "order.quantity_hint"})
 * The error slot under it is tied to the control with aria-describedby.
 */
export function field(labelKey, control, { hint } = {}) {
  control.id ||= uid(control.name || "f");
  const errorId = `${control.id}-error`;
  const describedBy = [errorId];
  const parts = [h("label", { for: control.id, "data-i18n": labelKey }, t(labelKey))];
  if (hint) {
    const hintId = `${control.id}-hint`;
    describedBy.unshift(hintId);
    parts.push(h("p", { class: "hint", id: hintId, "data-i18n": hint }, t(hint)));
  }
  control.setAttribute("aria-describedby", describedBy.join(" "));
  parts.push(control, h("p", { class: "field-error", id: errorId, dataset: { errorFor: control.name || "" } }));
  return h("div", { class: "field" }, parts);
}

export function select(name, options, { value, required = true } = {}) {
  return h(
    "select",
    { name, required },
    options.map((o) => h("option", { value: o.value, selected: o.value === value }, o.label)),
  );
}

/** The refusal in plain words: the dictionary's sentence for its code; in English, the API's own (more specific). */
export function errorText(error) {
  if (!error) return "";
  const key = `errors.${error.code}`;
  // Schema checks speak of types and lengths: the field is marked and a plain sentence says to check it.
  const technical = error.code === "validation_error";
  if (currentLang() === "en" && error.detail && !technical && error.status !== 0 && error.status < 500) {
    return sentence(error.detail);
  }
  if (has(key)) return t(key);
  return error.detail ? sentence(error.detail) : t("errors.unknown");
}

function sentence(text) {
  const s = text.trim();
  return s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?。]$/.test(s) ? "" : ".");
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const summary = form.querySelector(".form-error");
  if (summary) {
    summary.textContent = "";
    summary.hidden = true;
  }
}

function fieldNameOf(error) {
  if (error.field) return error.field;
  const key = error.errors?.[0]?.key;
  return key ? key.replace(/^body\.?/, "").split(".")[0] : null;
}

/** The first required control left empty, shown as a refusal next to it; true when all are filled. */
export function checkRequired(form) {
  for (const control of form.querySelectorAll("[required]")) {
    if (control.type === "radio" || control.disabled) continue;
    if (!control.value.trim()) {
      showError(form, { code: "required", field: control.name, status: 400, detail: "" });
      return false;
    }
  }
  return true;
}

/** Show an ApiError on a form: next to its field when the API named one, else in the form's summary. */
export function showError(form, error) {
  clearErrors(form);
  const name = fieldNameOf(error);
  const slot = name && form.querySelector(`.field-error[data-error-for="${CSS.escape(name)}"]`);
  const text = errorText(error);
  if (slot) {
    slot.textContent = text;
    const control = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (control) {
      control.setAttribute("aria-invalid", "true");
      control.focus();
    }
    return;
  }
  let summary = form.querySelector(".form-error");
  if (!summary) {
    summary = h("p", { class: "form-error", role: "alert" });
    form.prepend(summary);
  }
  summary.textContent = text;
  summary.hidden = false;
  summary.scrollIntoView({ block: "nearest" });
}

/** A random UUID; crypto.randomUUID exists only in secure contexts (https or localhost), hence the fallback. */
export function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * An Idempotency-Key per intended submission: the same key while the form's content is unchanged, so a
 * double tap or a retry after a network error never creates two orders; a new key once the content changes.
 */
export class IdempotencyKeys {
  constructor() {
    this.body = null;
    this.key = null;
  }

  keyFor(body) {
    const text = JSON.stringify(body);
    if (text !== this.body) {
      this.body = text;
      this.key = newId();
    }
    return this.key;
  }
}

/** Disable a form's submit button while `work` runs; a second submit during it is ignored. */
export async function busy(form, work) {
  if (form.dataset.busy) return undefined;
  form.dataset.busy = "1";
  const buttons = form.querySelectorAll("button[type=submit]");
  for (const b of buttons) b.setAttribute("aria-disabled", "true");
  try {
    return await work();
  } finally {
    delete form.dataset.busy;
    for (const b of buttons) b.removeAttribute("aria-disabled");
  }
}

/** Litres or tonnes: the quantity field's unit (the API takes `quantity_litres` or `quantity_kg`). */
export function quantityUnit(quantity) {
  const unit = select("quantity_unit", [
    { value: "L", label: t("order.unit_litres") },
    { value: "t", label: t("order.unit_tonnes") },
  ]);
  unit.addEventListener("change", () => {
    quantity.step = unit.value === "t" ? "0.001" : "1";
  });
  return unit;
}

export function quantityBody(quantity, unit) {
  const value = Number.parseFloat(quantity.value) || 0;
  return unit.value === "t" ? { quantity_kg: Math.round(value * 1000) } : { quantity_litres: Math.round(value) };
}
