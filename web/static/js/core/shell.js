// The frame every app shares: language switch, navigation, logout, status banner, role check.
import { goToLogin, session } from "./api.js";
import { h } from "./dom.js";
import { currentLang, initI18n, setLang, t, translate } from "./i18n.js";

/**
 * Start an app: load the dictionary, check the user's role, draw the navigation.
 * nav: [{href, key, prefix?}] (key is a dictionary key). roles: who may use the app (null: anyone, no login).
 */
export async function initShell({ roles = null, nav = [], titleKey } = {}) {
  await initI18n();
  if (roles && (!session.token || !roles.includes(session.role))) {
    goToLogin();
    return false;
  }
  const select = document.getElementById("lang");
  select.value = currentLang();
  select.addEventListener("change", () => setLang(select.value));

  const navEl = document.getElementById("nav");
  navEl.replaceChildren(
    ...nav.map((item) =>
      h("a", { href: item.href, "data-i18n": item.key, dataset: item.prefix ? { prefix: "1" } : undefined }, t(item.key)),
    ),
  );
  const logout = document.getElementById("logout");
  if (session.token) {
    logout.hidden = false;
    logout.addEventListener("click", () => {
      session.clear();
      location.assign("/app/login");
    });
  }
  if (titleKey) setTitle(titleKey);
  translate();
  return true;
}

export function setTitle(key, params) {
  document.title = `${t(key, params)} · Diesel Direct`;
}

/**
 * A message in the banner under the top bar (role=status, so screen readers announce it). It stays for the
 * next screen (a message is often set right before navigating) and goes at the one after.
 */
export function banner(text, kind = "info") {
  const el = document.getElementById("banner");
  if (!text) {
    el.hidden = true;
    el.textContent = "";
    return;
  }
  el.className = `banner banner-${kind}`;
  el.textContent = text;
  el.hidden = false;
  el.dataset.fresh = "1";
}

/** Called on each navigation: a banner survives one. */
export function ageBanner() {
  const el = document.getElementById("banner");
  if (el.dataset.fresh) delete el.dataset.fresh;
  else banner(null);
}
