// Home: the account's delivery sites, with the way to order for each, to change each, and to add one.
import { allPages } from "../core/api.js";
import { h, litres } from "../core/dom.js";
import { t } from "../core/i18n.js";
import { setTitle } from "../core/shell.js";
import { emptyState, errorState, linkButton, pageHeader } from "../core/ui.js";
import { can } from "./roles.js";

function daysText(days) {
  const sorted = [...days].sort();
  if (sorted.length === 7) return t("weekday.all");
  const consecutive = sorted.every((d, i) => i === 0 || d === sorted[i - 1] + 1);
  if (consecutive && sorted.length > 2) return `${t(`weekday.${sorted[0]}`)}–${t(`weekday.${sorted.at(-1)}`)}`;
  return sorted.map((d) => t(`weekday.${d}`)).join(" ");
}

function hoursText(hours) {
  return hours.map((entry) => `${daysText(entry.days)} ${entry.open}–${entry.close}`).join("; ");
}

function siteCard(site) {
  return h(
    "li",
    { class: "card site" },
    h("h2", {}, site.name),
    h("p", { class: "muted" }, site.address),
    h(
      "p",
      { class: "small" },
      `${t("site.tank")}: ${litres(site.tank_capacity_litres)} · ${t("site.hours")}: ${hoursText(site.receiving_hours)}`,
    ),
    h(
      "div",
      { class: "actions" },
      can("order") ? h("a", { class: "btn btn-primary", href: `/app/customer/order?site=${site.id}` }, t("site.order_here")) : null,
      can("sites_edit")
        ? h("a", { class: "btn", href: `/app/customer/sites/${site.id}`, "aria-label": t("site.edit_named", { name: site.name }) }, t("site.edit"))
        : null,
    ),
  );
}

export async function homeView(main, _params, ctx) {
  setTitle("nav.sites");
  main.append(
    pageHeader("sites.title"),
    h(
      "div",
      { class: "actions" },
      can("order") ? linkButton("/app/customer/order", "nav.order", "btn btn-primary") : null,
      can("pickup") ? linkButton("/app/customer/pickup", "nav.book_pickup", "btn") : null,
      can("sites_edit") ? linkButton("/app/customer/sites/new", "site.new_title", "btn") : null,
    ),
  );
  let sites;
  try {
    sites = await allPages("/sites");
  } catch (error) {
    main.append(errorState(error, () => ctx.navigate("/app/customer", { replace: true })));
    return;
  }
  if (!ctx.isCurrent()) return;
  main.append(sites.length ? h("ul", { class: "cards" }, sites.map(siteCard)) : emptyState("sites.none"));
}
