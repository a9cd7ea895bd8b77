// My orders: newest first, each with its status chip; filter by status.
import { allPages, api } from "../core/api.js";
import { productLabel } from "../core/catalogue.js";
import { day, h, litres, money } from "../core/dom.js";
import { field, select } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { setTitle } from "../core/shell.js";
import { emptyState, errorState, linkButton, pageHeader, statusChip, statusText } from "../core/ui.js";
import { can } from "./roles.js";

const STATUSES = ["placed", "awaiting_approval", "on_hold", "confirmed", "scheduled", "loaded", "en_route", "delivered", "failed", "cancelled"];
const PAGE = 20;

async function orderRow(order, siteNames) {
  return h(
    "li",
    { class: "list-item" },
    h(
      "a",
      { href: `/app/customer/orders/${order.id}`, class: "list-link" },
      h("span", { class: "list-main" }, h("strong", {}, order.reference), statusChip(order.status)),
      h(
        "span",
        { class: "list-sub" },
        `${day(order.delivery_date)} ${order.window_start}–${order.window_end} · ${await productLabel(order.product_code)} · ${litres(order.quantity_litres)}`,
      ),
      h("span", { class: "list-sub muted" }, `${siteNames[order.site_id] || ""} · ${money(order.price.amount_minor, order.price.currency)}`),
    ),
  );
}

export async function ordersView(main, _params, ctx) {
  setTitle("orders.title");
  const status = ctx.query.get("status") || "";
  const filter = select("status", [{ value: "", label: t("orders.all") }, ...STATUSES.map((s) => ({ value: s, label: statusText(s) }))], {
    value: status,
    required: false,
  });
  filter.addEventListener("change", () => ctx.navigate(`orders${filter.value ? `?status=${filter.value}` : ""}`, { replace: true }));
  const list = h("ul", { class: "list", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "btn", hidden: true }, t("common.more"));
  main.append(
    pageHeader("orders.title", {}, can("order") ? linkButton("/app/customer/order", "nav.order", "btn btn-primary") : null),
    h("div", { class: "filters" }, field("orders.filter", filter)),
    list,
    more,
  );
  let sites;
  try {
    sites = await allPages("/sites");
  } catch (error) {
    main.append(errorState(error));
    return;
  }
  const siteNames = Object.fromEntries(sites.map((s) => [s.id, s.name]));
  let offset = 0;

  async function loadPage() {
    const query = new URLSearchParams({ limit: PAGE, offset });
    if (status) query.set("status", status);
    const page = await api(`/orders?${query}`);
    if (!ctx.isCurrent()) return;
    if (!page.total) list.replaceWith(emptyState("orders.none"));
    list.append(...(await Promise.all(page.items.map((o) => orderRow(o, siteNames)))));
    offset += page.items.length;
    more.hidden = offset >= page.total;
  }

  more.addEventListener("click", () => loadPage().catch((error) => main.append(errorState(error))));
  try {
    await loadPage();
  } catch (error) {
    main.append(errorState(error));
  }
}
