// A tiny history router for one app: `/app/NAME/<rest>` -> a view function.
import { clear, keepingValues } from "./dom.js";
import { onLangChange, t } from "./i18n.js";
import { ageBanner } from "./shell.js";

/**
 * routes: [[/^orders\/([^/]+)$/, view], ...]; a view is `async (main, params, ctx) => cleanup?`.
 * The view draws into <main>; the cleanup (if returned) runs before the next view (to stop a camera, a timer...).
 */
export function startRouter({ base, routes, notFound }) {
  const main = document.getElementById("main");
  let cleanup = null;
  let renderSeq = 0;

  function rest() {
    const path = location.pathname.startsWith(base) ? location.pathname.slice(base.length) : "";
    return path.replace(/^\/+|\/+$/g, "");
  }

  async function render({ focus = false } = {}) {
    const seq = ++renderSeq;
    if (cleanup) {
      try {
        cleanup();
      } catch (error) {
        console.warn("cleanup failed", error);
      }
      cleanup = null;
    }
    const path = rest();
    let view = notFound;
    let params = [];
    for (const [pattern, candidate] of routes) {
      const match = pattern.exec(path);
      if (match) {
        view = candidate;
        params = match.slice(1).map(decodeURIComponent);
        break;
      }
    }
    clear(main);
    main.setAttribute("aria-busy", "true");
    const ctx = { navigate, isCurrent: () => seq === renderSeq, query: new URLSearchParams(location.search) };
    try {
      const result = await view(main, params, ctx);
      if (seq === renderSeq && typeof result === "function") cleanup = result;
      else if (typeof result === "function") result();
    } finally {
      main.removeAttribute("aria-busy");
    }
    if (focus && seq === renderSeq) {
      const heading = main.querySelector("h1");
      (heading || main).setAttribute("tabindex", "-1");
      (heading || main).focus({ preventScroll: false });
    }
    markCurrentNav();
  }

  function navigate(to, { replace = false } = {}) {
    const url = to.startsWith("/") ? to : `${base}/${to}`;
    ageBanner();
    if (replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
    window.scrollTo(0, 0);
    return render({ focus: true });
  }

  function markCurrentNav() {
    for (const link of document.querySelectorAll("#nav a")) {
      const here = link.pathname === location.pathname || (link.dataset.prefix && location.pathname.startsWith(link.pathname + "/"));
      if (here) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!link || link.target || link.hasAttribute("download") || event.defaultPrevented) return;
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    if (link.origin !== location.origin || !link.pathname.startsWith(base)) return;
    event.preventDefault();
    navigate(link.pathname + link.search);
  });
  window.addEventListener("popstate", () => render({ focus: true }));
  onLangChange(() => keepingValues(main, () => render()));
  render();
  return { navigate };
}

/** A view for unknown paths. */
export function notFoundView(main) {
  main.append(Object.assign(document.createElement("h1"), { textContent: t("common.not_found") }));
}
