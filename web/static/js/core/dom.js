// Small DOM helpers: elements are built with text nodes, never from HTML strings of user data.
import { currentLang, t } from "./i18n.js";

/**
 * h("button", {class: "btn", onclick: fn, "aria-label": "..."}, "text", child, [more])
 * Attributes: `class`, `text`, `on<event>`, `dataset` (object), booleans (true adds, false omits), anything else as is.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/**
 * Run `redraw` (which rebuilds the content of `root`) and put back what the user had typed or chosen in its
 * named controls, so that switching the language never loses a half-filled form.
 */
export async function keepingValues(root, redraw) {
  const before = [...root.querySelectorAll("input[name], select[name], textarea[name]")].map((el) => ({
    name: el.name,
    type: el.type,
    value: el.value,
    checked: el.checked,
  }));
  await redraw();
  for (const { name, type, value, checked } of before) {
    const selector =
      type === "radio" || type === "checkbox"
        ? `[name="${CSS.escape(name)}"][value="${CSS.escape(value)}"]`
        : `[name="${CSS.escape(name)}"]`;
    const el = root.querySelector(selector);
    if (!el) continue;
    if (type === "radio" || type === "checkbox") el.checked = checked;
    else if (el.tagName !== "SELECT" || [...el.options].some((o) => o.value === value)) el.value = value;
  }
}

let idCounter = 0;
export function uid(prefix = "f") {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// ------------------------------------------------------------------ formatting

export function money(minor, currency = "CNY") {
  return new Intl.NumberFormat(currentLang(), { style: "currency", currency, currencyDisplay: "narrowSymbol" }).format(
    minor / 100,
  );
}

/** A price per unit with its currency and two decimals at least (the office's price grid: "¥7.66"). */
export function pricePerLitre(minor, currency = "CNY") {
  const options = { style: "currency", currency, currencyDisplay: "narrowSymbol", minimumFractionDigits: 2 };
  return new Intl.NumberFormat(currentLang(), options).format(minor / 100);
}

/**
 * A unit price per litre and per tonne, as customers in China read prices: "7.80 元/升 · 9,341.32 元/吨" (the
 * dictionaries name the currency, yuan: the only one prices are published in).
 */
export function unitPrices(perLitreMinor, perTonneMinor) {
  const twoDecimals = new Intl.NumberFormat(currentLang(), { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const shown = (minor, key) => t(key, { n: twoDecimals.format(minor / 100) });
  const perLitre = shown(perLitreMinor, "price.per_litre");
  return perTonneMinor == null ? perLitre : `${perLitre} · ${shown(perTonneMinor, "price.per_tonne")}`;
}

export function tonnes(kg) {
  return t("unit.tonnes", { n: number(kg / 1000, 3) });
}

export function number(n, digits = 0) {
  return new Intl.NumberFormat(currentLang(), { maximumFractionDigits: digits }).format(n);
}

export function litres(n) {
  return `${number(n)} L`;
}

export function dateTime(iso, timeZone = "Asia/Shanghai") {
  const options = { dateStyle: "medium", timeStyle: "short", timeZone, hourCycle: "h23" };
  return new Intl.DateTimeFormat(currentLang(), options).format(
    new Date(iso),
  );
}

export function time(iso, timeZone = "Asia/Shanghai") {
  return new Intl.DateTimeFormat(currentLang(), { timeStyle: "short", timeZone, hourCycle: "h23" }).format(
    new Date(iso),
  );
}

export function day(isoDate) {
  // A calendar date (YYYY-MM-DD) has no time zone: format it as such.
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Intl.DateTimeFormat(currentLang(), { dateStyle: "medium", timeZone: "UTC" }).format(
    new Date(Date.UTC(y, m - 1, d)),
  );
}

/** The calendar day an instant falls on in a time zone (the business day: 00:49 in Shanghai is not yesterday). */
export function dayAt(iso, timeZone = "Asia/Shanghai") {
  return new Intl.DateTimeFormat(currentLang(), { dateStyle: "medium", timeZone }).format(new Date(iso));
}

/** YYYY-MM-DD of `now + days` in a time zone (the business day of the depot or site). */
export function isoDay(days = 0, timeZone = "Asia/Shanghai") {
  const at = new Date(Date.now() + days * 86_400_000);
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(at);
}
