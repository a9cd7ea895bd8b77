// Customers: found by a part of the name, tax id, contact or phone; each a link to its page.
import { h, money, number } from "../core/dom.js";
import { t } from "../core/i18n.js";
import { setTitle } from "../core/shell.js";
import { pageHeader } from "../core/ui.js";
import { BASE, isoToday, pageOf, pagedTable } from "./kit.js";

export function tonnes(kg) {
  return `${number(kg / 1000, 1)} t`;
}

export async function customersView(main, _params, ctx) {
  setTitle("office.customers_title");
  main.append(pageHeader("office.customers_title"));
  const table = pagedTable({
    title: t("office.customers_title"),
    query: ctx.query,
    filters: [{ name: "q", key: "office.search", type: "search", placeholderKey: "office.search_customer_hint" }],
    columns: [
      { key: "office.company", cell: (c) => h("a", { href: `${BASE}/customers/${c.id}`, class: "customer-link" }, c.name) },
      { key: "office.tax_id", cell: (c) => c.tax_id || "" },
      { key: "office.contact", cell: (c) => [c.contact_name, c.contact_phone].filter(Boolean).join(" · ") },
      { key: "office.tier", num: true, cell: (c) => String(c.tier) },
      { key: "office.yearly_volume", num: true, cell: (c) => tonnes(c.yearly_volume_kg) },
      { key: "office.credit_limit", num: true, cell: (c) => money(c.credit_limit_minor, c.currency) },
      { key: "office.available", num: true, cell: (c) => money(c.available_credit_minor, c.currency) },
    ],
    load: pageOf("/customers"),
    csv: {
      filename: () => `customers-${isoToday()}.csv`,
      columns: [
        [t("office.company"), (c) => c.name],
        [t("office.tax_id"), (c) => c.tax_id],
        [t("office.contact"), (c) => c.contact_name],
        [t("office.phone"), (c) => c.contact_phone],
        [t("office.tier"), (c) => c.tier],
        [t("office.yearly_volume_t"), (c) => (c.yearly_volume_kg / 1000).toFixed(3)],
        [t("office.credit_limit_yuan"), (c) => (c.credit_limit_minor / 100).toFixed(2)],
        [t("office.available_yuan"), (c) => (c.available_credit_minor / 100).toFixed(2)],
      ],
    },
    emptyKey: "office.no_customers",
  });
  main.append(table.element);
  await table.reload();
  main.querySelector("input[name=q]")?.focus();
}
