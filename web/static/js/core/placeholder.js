// A clean placeholder for an app that is not built yet (dispatcher console, driver app).
import { h } from "./dom.js";
import { onLangChange, t } from "./i18n.js";
import { initShell } from "./shell.js";

/** Draw the placeholder of `app` ("dispatcher" or "driver") for the given roles. */
export async function placeholder(app, roles) {
  if (!(await initShell({ roles, titleKey: `${app}.title` }))) return;
  const main = document.getElementById("main");
  const draw = () =>
    main.replaceChildren(
      h(
        "div",
        { class: "card narrow" },
        h("h1", {}, t(`${app}.title`)),
        h("p", {}, t("placeholder.soon")),
        h("a", { href: "/schema", class: "btn" }, t("login.api_docs")),
      ),
    );
  draw();
  onLangChange(draw);
}
