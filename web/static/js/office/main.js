// The back office (desktop first, works on a tablet): prices, applications, customers, finance, users, the audit
// log and the customer insight, for admins, finance and account managers.
import { api, session } from "../core/api.js";
import { notFoundView, startRouter } from "../core/router.js";
import { initShell } from "../core/shell.js";
import { applicationView, applicationsView } from "./applications.js";
import { auditView } from "./audit.js";
import { customerView } from "./customer.js";
import { customersView } from "./customers.js";
import { bankView } from "./bank.js";
import { runsView, statementsView } from "./finance.js";
import { invoiceView, invoicesView } from "./invoices.js";
import { deliveriesView, insightView, salesView, visitsView } from "./insight.js";
import { BASE } from "./kit.js";
import { visitScanView } from "./visits.js";
import { overviewView } from "./overview.js";
import { paymentView, paymentsView } from "./payments.js";
import { contractsView, priceHistoryView, pricesView, tiersView } from "./prices.js";
import { userView, usersView } from "./users.js";

const ID = "([0-9a-fA-F-]{36})";
const OFFICE_ROLES = ["admin", "finance"];
const STAFF_ROLES = ["admin", "finance", "dispatcher", "rack_operator", "driver"];

/** What each kind of office user sees in the navigation (the API refuses the rest anyway). */
function navFor(role, manager) {
  const all = {
    prices: { href: `${BASE}/prices`, key: "office.nav_prices", prefix: true },
    applications: { href: `${BASE}/applications`, key: "office.nav_applications", prefix: true },
    customers: { href: `${BASE}/customers`, key: "office.nav_customers", prefix: true },
    finance: { href: `${BASE}/finance`, key: "office.nav_finance", prefix: true },
    users: { href: `${BASE}/users`, key: "office.nav_users", prefix: true },
    audit: { href: `${BASE}/audit`, key: "office.nav_audit" },
    insight: { href: `${BASE}/insight`, key: "office.nav_insight", prefix: true },
    dispatcher: { href: "/app/dispatcher", key: "office.nav_dispatcher" },
    rack: { href: "/app/rack", key: "office.nav_rack" },
  };
  const names = {
    admin: ["prices", "applications", "customers", "finance", "users", "audit", "insight", "dispatcher", "rack"],
    finance: ["customers", "finance", "insight"],
  }[role] || (manager ? ["customers", "insight"] : []);
  return names.map((name) => all[name]);
}

/** Admins and finance; other staff only when they are account managers (`manager: true` on their user). */
async function managerFlag() {
  if (OFFICE_ROLES.includes(session.role) || !STAFF_ROLES.includes(session.role)) return false;
  try {
    return Boolean((await api("/me")).user?.manager);
  } catch {
    return false;
  }
}

const manager = session.token ? await managerFlag() : false;
const roles = manager ? [session.role] : OFFICE_ROLES;
const ready = await initShell({ roles, titleKey: "office.title", nav: navFor(session.role, manager) });

if (ready) {
  startRouter({
    base: BASE,
    notFound: notFoundView,
    routes: [
      [/^$/, overviewView],
      [/^prices$/, pricesView],
      [/^prices\/history$/, priceHistoryView],
      [/^prices\/contracts$/, contractsView],
      [/^prices\/tiers$/, tiersView],
      [/^applications$/, applicationsView],
      [new RegExp(`^applications/${ID}$`), applicationView],
      [/^customers$/, customersView],
      [new RegExp(`^customers/${ID}$`), customerView],
      [/^finance$/, runsView],
      [/^finance\/invoices$/, invoicesView],
      [new RegExp(`^finance/invoices/${ID}$`), invoiceView],
      [/^finance\/payments$/, paymentsView],
      [new RegExp(`^finance/payments/${ID}$`), paymentView],
      [/^finance\/bank$/, bankView],
      [/^finance\/statements$/, statementsView],
      [/^users$/, usersView],
      [new RegExp(`^users/${ID}$`), userView],
      [/^audit$/, auditView],
      [/^insight$/, insightView],
      [/^insight\/sales$/, salesView],
      [/^insight\/deliveries$/, deliveriesView],
      [/^insight\/visits$/, visitsView],
      [/^insight\/visits\/new$/, visitScanView],
    ],
  });
}
