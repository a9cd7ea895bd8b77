// Two languages, one small JSON dictionary each; the choice is remembered in localStorage.
const STORAGE_KEY = "dd.lang";
export const LANGUAGES = ["zh-CN", "en"];
const STATIC = "/static";

let lang = "en";
let dict = {};
const listeners = new Set();

function preferredLanguage() {
  const stored = localStorage.getItem(STORAGE_KEY);
  if (LANGUAGES.includes(stored)) return stored;
  const browser = (navigator.languages || [navigator.language || "en"]).map((l) => l.toLowerCase());
  return browser.some((l) => l.startsWith("zh")) ? "zh-CN" : "en";
}

async function load(code) {
  const response = await fetch(`${STATIC}/i18n/${code}.json`);
  if (!response.ok) throw new Error(`dictionary ${code}: HTTP ${response.status}`);
  return response.json();
}

export function currentLang() {
  return lang;
}

/** The text for `key`, with {name} placeholders filled from `params`; the key itself when it is missing. */
export function t(key, params = {}) {
  const text = dict[key];
  if (text === undefined) return key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (params[name] ?? `{${name}}`).toString());
}

/** True when the dictionary has `key` (to fall back to a server's own words otherwise). */
export function has(key) {
  return Object.hasOwn(dict, key);
}

/** Translate every [data-i18n] text and [data-i18n-attr="attr:key;attr:key"] attribute under `root`. */
export function translate(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      if (attr && key) el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

export async function setLang(code) {
  // The language already shown: nothing to reload or rebuild (a rebuild moves the focus, mid-typing too).
  if (!LANGUAGES.includes(code) || code === lang) return;
  dict = await load(code);
  lang = code;
  localStorage.setItem(STORAGE_KEY, code);
  document.documentElement.lang = code;
  translate();
  for (const listener of listeners) listener(code);
}

/** Call `listener(lang)` after every language switch (views re-render themselves). */
export function onLangChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export async function initI18n() {
  const code = preferredLanguage();
  dict = await load(code);
  lang = code;
  document.documentElement.lang = code;
  translate();
}
