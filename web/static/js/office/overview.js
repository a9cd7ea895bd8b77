// The office's first page: what waits for someone (applications, bank lines, open invoices, quiet customers),
// each figure a link to its list, and the other apps an admin may open.
import { api, session } from "../core/api.js";
import { dateTime, h, number } from "../core/dom.js";
import { t } from "../core/i18n.js";
import { setTitle } from "../core/shell.js";
import { pageHeader } from "../core/ui.js";
import { BASE, fill } from "./kit.js";

function figure(labelKey, path, href, describe = (page) => number(page.total)) {
  const value = h("div", { class: "figure-value" }, "…");
  const box = h("a", { class: "card figure", href, dataset: { figure: labelKey } }, h("span", { class: "figure-label" }, t(labelKey)), value);
  fill(value, async () => describe(await api(path)));
  return box;
}

export async function overviewView(main) {
  setTitle("office.title");
  const admin = session.role === "admin";
  const money = admin || session.role === "finance";
  main.append(
    pageHeader("office.overview"),
    h(
      "div",
      { class: "figures" },
      admin ? figure("office.waiting_applications", "/applications?status=pending&limit=1", `${BASE}/applications?status=pending`) : null,
      money ? figure("office.waiting_bank_lines", "/payments/unmatched?limit=1", `${BASE}/finance/bank`) : null,
      money ? figure("office.open_invoices", "/invoices?status=issued&limit=1", `${BASE}/finance/invoices?status=issued`) : null,
      money
        ? figure("office.last_invoice_run", "/invoice-runs?limit=1", `${BASE}/finance`, (page) =>
            page.items.length ? dateTime(page.items[0].created_at) : t("office.none"),
          )
        : null,
      figure("office.quiet_customers", "/analytics/customers?dormant=true&limit=1", `${BASE}/insight?dormant=true`),
    ),
    admin
      ? h(
          "section",
          { class: "card" },
          h("h2", {}, t("office.other_apps")),
          h(
            "ul",
            { class: "app-links" },
            h("li", {}, h("a", { href: "/app/dispatcher" }, t("office.nav_dispatcher"))),
            h("li", {}, h("a", { href: "/app/rack" }, t("office.nav_rack"))),
          ),
        )
      : null,
  );
}
