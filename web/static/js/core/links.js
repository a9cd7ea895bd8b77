// Links handed to other people (a share link, a driver's pickup pass): made absolute, shown with a copy button.
import { h } from "./dom.js";
import { t } from "./i18n.js";

/** An absolute link: the API answers a relative one when PUBLIC_BASE_URL is not configured. */
export function absolute(url) {
  return new URL(url, location.origin).href;
}

/** A link with a copy button (the clipboard, or selecting the text where the clipboard is not allowed). */
export function copyableLink(url, { id } = {}) {
  const input = h("input", { type: "url", readonly: true, value: url, id, "aria-label": t("share.link") });
  const copy = h("button", { type: "button", class: "btn" }, t("share.copy"));
  const said = h("span", { class: "small muted", "aria-live": "polite" });
  copy.addEventListener("click", async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(url);
      said.textContent = t("share.copied");
    } catch {
      said.textContent = t("share.copy_by_hand");
    }
  });
  return h("div", { class: "copy-link" }, input, h("div", { class: "actions" }, copy, said));
}
