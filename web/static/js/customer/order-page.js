// One order: its details, its timeline (GET /orders/{id}/events), and cancelling while that is possible.
import { api } from "../core/api.js";
import { productLabel } from "../core/catalogue.js";
import { dateTime, day, h, litres, money } from "../core/dom.js";
import { errorText } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { details, errorState, statusChip, timeline } from "../core/ui.js";

const CANCELLABLE = new Set(["placed", "on_hold", "confirmed", "scheduled"]);
const ON_ITS_WAY = new Set(["scheduled", "loaded", "en_route"]);
const REFRESH_MS = 10_000;

async function orderDetails(order, site) {
  const tz = site?.timezone || "Asia/Shanghai";
  return details([
    ["order.site", site ? `${site.name} — ${site.address}` : ""],
    ["order.product", await productLabel(order.product_code)],
    ["order.quantity", litres(order.quantity_litres)],
    ["order.date", day(order.delivery_date)],
    ["order.window", `${order.window_start}–${order.window_end} (${tz})`],
    ["quote.total", money(order.price.amount_minor, order.price.currency)],
    ["order.hold_reason", order.hold_reason ? t(`errors.${order.hold_reason}`) : ""],
    ["order.cancel_reason", order.cancel_reason || ""],
    ["order.note", order.note || ""],
  ]);
}

/** ETA and tanker while the order is on its way (GET /orders/{id}/tracking), with the receipt code to show. */
async function onItsWay(order, timeZone) {
  let tracking = null;
  try {
    tracking = await api(`/orders/${order.id}/tracking`);
  } catch {
    // tracking is a bonus here: the order page stands without it
  }
  return h(
    "section",
    { class: "card on-its-way" },
    details([
      ["order.eta", tracking?.eta ? dateTime(tracking.eta, timeZone) : ""],
      ["order.tanker", tracking?.tanker?.plate || ""],
    ]),
    h("a", { class: "btn btn-primary btn-block btn-qr", href: `/app/customer/orders/${order.id}/receipt` }, t("receipt.show")),
  );
}

function cancelControl(order, onDone) {
  const box = h("div", { class: "cancel" });
  const ask = h("button", { type: "button", class: "btn btn-danger-outline" }, t("order.cancel"));
  ask.addEventListener("click", () => {
    const yes = h("button", { type: "button", class: "btn btn-danger" }, t("order.cancel_yes"));
    const no = h("button", { type: "button", class: "btn" }, t("order.cancel_no"));
    const error = h("p", { class: "field-error", role: "alert" });
    no.addEventListener("click", () => box.replaceChildren(ask));
    yes.addEventListener("click", async () => {
      yes.setAttribute("aria-disabled", "true");
      try {
        await api(`/orders/${order.id}/cancel`, { method: "POST", body: { reason: "cancelled by the customer" } });
        banner(t("order.cancelled"), "ok");
        onDone();
      } catch (err) {
        error.textContent = errorText(err);
        yes.removeAttribute("aria-disabled");
      }
    });
    box.replaceChildren(h("p", {}, t("order.cancel_confirm")), h("div", { class: "actions" }, yes, no), error);
    yes.focus();
  });
  box.append(ask);
  return box;
}

export async function orderView(main, [id], ctx) {
  setTitle("order.page_title");
  const header = h("div", { class: "page-header" });
  const body = h("div", { class: "order-body" });
  const events = h("section", { class: "card", "aria-labelledby": "timeline-title" });
  main.append(header, body, events);
  let lastSeen = "";

  async function draw() {
    const [order, history, sites] = await Promise.all([
      api(`/orders/${id}`),
      api(`/orders/${id}/events`),
      api("/sites"),
    ]);
    if (!ctx.isCurrent()) return;
    const seen = `${order.status}|${history.length}`;
    if (seen === lastSeen) return;
    lastSeen = seen;
    const site = sites.find((s) => s.id === order.site_id);
    setTitle("order.page_title_ref", { reference: order.reference });
    header.replaceChildren(
      h("h1", {}, t("order.page_title_ref", { reference: order.reference })),
      h("p", { class: "status-line" }, statusChip(order.status)),
    );
    body.replaceChildren();
    if (ON_ITS_WAY.has(order.status)) body.append(await onItsWay(order, site?.timezone));
    body.append(h("section", { class: "card" }, await orderDetails(order, site)));
    if (CANCELLABLE.has(order.status)) body.append(cancelControl(order, () => draw()));
    events.replaceChildren(
      h("h2", { id: "timeline-title" }, t("timeline.title")),
      timeline(history, site?.timezone),
    );
  }

  try {
    await draw();
  } catch (error) {
    main.replaceChildren(errorState(error, () => ctx.navigate(`orders/${id}`, { replace: true })));
    return undefined;
  }
  // The status moves on without the customer doing anything: look again every few seconds while visible.
  const timer = setInterval(() => {
    if (document.visibilityState === "visible") draw().catch(() => {});
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
