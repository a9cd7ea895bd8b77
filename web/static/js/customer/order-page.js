// One order: its details, its timeline (GET /orders/{id}/events), cancelling while that is possible, sharing its
// tracking (a link to copy or send, revocable), and while
// it is on its way its stop and the tanker on a map, and the ETA — live (GET /orders/{id}/live, Server-Sent
// Events) with a poll as a safety net; the tanker's position is looked up every few seconds (positions are not
// events).
import { allPages, api } from "../core/api.js";
import { productLabel } from "../core/catalogue.js";
import { dateTime, day, h, litres, money } from "../core/dom.js";
import { errorText } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { absolute, copyableLink } from "../core/links.js";
import { follow } from "../core/live.js";
import { banner, setTitle } from "../core/shell.js";
import { createMap, trackingLayers } from "../map/map.js";
import { details, errorState, statusChip, timeline } from "../core/ui.js";
import { sameAgainCard } from "./repeat.js";
import { can } from "./roles.js";

const CANCELLABLE = new Set(["placed", "on_hold", "confirmed", "scheduled"]);
const SHAREABLE = new Set(["placed", "on_hold", "confirmed", "scheduled", "loaded", "en_route"]);
const ON_ITS_WAY = new Set(["scheduled", "loaded", "en_route"]);
const REFRESH_MS = 10_000; // no live stream: look again this often
const SLOW_REFRESH_MS = 30_000; // with the live stream: a safety net
const POSITION_MS = 10_000;

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

/** ETA and tanker while the order is on its way (GET /orders/{id}/tracking), the map, the receipt code to show. */
function onItsWay(order) {
  const facts = h("div", { class: "tracking-facts" });
  const map = createMap({ aspect: 4 / 3, minHeight: 240, maxHeight: 420, className: "order-map" });
  const section = h(
    "section",
    { class: "card on-its-way", id: "tracking" },
    facts,
    map.element,
    h("a", { class: "btn btn-primary btn-block btn-qr", href: `/app/customer/orders/${order.id}/receipt` }, t("receipt.show")),
  );
  return {
    section,
    map,
    show(tracking, timeZone) {
      facts.replaceChildren(
        details([
          ["order.eta", tracking?.eta ? dateTime(tracking.eta, timeZone) : ""],
          ["order.tanker", tracking?.tanker?.plate || ""],
          ["order.last_position", tracking?.tanker?.position ? dateTime(tracking.tanker.position.recorded_at, timeZone) : ""],
        ]),
      );
      const layers = trackingLayers(tracking);
      // The customer's own stop (and the tanker once it is on its way there): never the other stops of the trip.
      map.element.hidden = !layers.stops.length && !layers.tankers.length;
      map.update({ ...layers, label: t("order.map_label"), depotLabels: true });
    },
  };
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

/**
 * Share the order's tracking (a link that needs no login: status, ETA and the tanker on a map while it is on its
 * way), the links made so far and a way to revoke each.
 */
function shareCard(order) {
  const fresh = h("div", { class: "share-new", "aria-live": "polite" });
  const list = h("ul", { class: "list share-links", id: "share-links" });
  const error = h("p", { class: "field-error", role: "alert" });
  const make = h("button", { type: "button", class: "btn", id: "share" }, t("share.create"));

  async function refresh() {
    const page = await api(`/orders/${order.id}/share?limit=20`);
    list.replaceChildren(
      ...page.items.map((link) => {
        const row = h(
          "li",
          { class: "list-item list-row", dataset: { linkId: link.id, status: link.status } },
          h(
            "span",
            { class: "list-main" },
            h("span", {}, t("share.made_at", { at: dateTime(link.created_at) })),
            h("span", { class: "chip chip-neutral" }, t(`share.status_${link.status}`)),
          ),
          h("span", { class: "list-sub muted" }, t("share.expires", { at: dateTime(link.expires_at) })),
        );
        if (link.status === "active") {
          const revoke = h("button", { type: "button", class: "btn btn-small btn-danger-outline" }, t("share.revoke"));
          revoke.addEventListener("click", async () => {
            try {
              await api(`/orders/${order.id}/share/${link.id}`, { method: "DELETE" });
              fresh.replaceChildren();
              await refresh();
            } catch (err) {
              error.textContent = errorText(err);
            }
          });
          row.append(revoke);
        }
        return row;
      }),
    );
  }

  make.addEventListener("click", async () => {
    error.textContent = "";
    make.setAttribute("aria-disabled", "true");
    try {
      const link = await api(`/orders/${order.id}/share`, { method: "POST", body: { ttl_hours: 24 } });
      const url = absolute(link.url);
      const shareNow = navigator.share
        ? h("button", { type: "button", class: "btn", onclick: () => navigator.share({ url }).catch(() => {}) }, t("share.send"))
        : null;
      fresh.replaceChildren(copyableLink(url, { id: "share-url" }), ...(shareNow ? [shareNow] : []));
      await refresh();
    } catch (err) {
      error.textContent = errorText(err);
    } finally {
      make.removeAttribute("aria-disabled");
    }
  });
  refresh().catch(() => {});
  return h(
    "section",
    { class: "card share", "aria-labelledby": "share-title" },
    h("h2", { id: "share-title" }, t("share.title")),
    h("p", { class: "hint" }, t("share.hint")),
    make,
    error,
    fresh,
    list,
  );
}

export async function orderView(main, [id], ctx) {
  setTitle("order.page_title");
  const header = h("div", { class: "page-header" });
  const tracker = h("div", { class: "tracker" });
  const body = h("div", { class: "order-body" });
  const events = h("section", { class: "card", "aria-labelledby": "timeline-title" });
  const sharing = h("div", {});
  main.append(...[header, tracker, body, sharing, can("order") ? sameAgainCard(id, ctx) : null, events].filter(Boolean));
  let lastSeen = "";
  let trackingView = null;
  let timeZone = "Asia/Shanghai";
  let status = "";

  async function refreshTracking() {
    if (!trackingView) return;
    try {
      const tracking = await api(`/orders/${id}/tracking`);
      if (ctx.isCurrent() && trackingView) trackingView.show(tracking, timeZone);
    } catch {
      // tracking is a bonus here: the order page stands without it
    }
  }

  async function draw() {
    const [order, history, sites] = await Promise.all([
      api(`/orders/${id}`),
      api(`/orders/${id}/events`),
      allPages("/sites"),
    ]);
    if (!ctx.isCurrent()) return;
    const seen = `${order.status}|${history.length}|${order.eta || ""}`;
    if (seen === lastSeen) return;
    lastSeen = seen;
    status = order.status;
    const site = sites.find((s) => s.id === order.site_id);
    timeZone = site?.timezone || "Asia/Shanghai";
    setTitle("order.page_title_ref", { reference: order.reference });
    header.replaceChildren(
      h("h1", {}, t("order.page_title_ref", { reference: order.reference })),
      h("p", { class: "status-line", "aria-live": "polite" }, statusChip(order.status)),
    );
    if (ON_ITS_WAY.has(order.status)) {
      if (!trackingView) {
        trackingView = onItsWay(order);
        tracker.replaceChildren(trackingView.section);
      }
      await refreshTracking();
    } else if (trackingView) {
      trackingView.map.destroy();
      trackingView = null;
      tracker.replaceChildren();
    }
    body.replaceChildren(h("section", { class: "card" }, await orderDetails(order, site)));
    if (CANCELLABLE.has(order.status) && can("cancel_order")) body.append(cancelControl(order, () => draw()));
    if (!SHAREABLE.has(order.status) || !can("share")) sharing.replaceChildren();
    else if (!sharing.firstChild) sharing.append(shareCard(order)); // kept across redraws: the new link stays
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
  // The status moves on without the customer doing anything: each event of the order arrives on the live
  // stream and the page redraws; a poll stays as a safety net (every 10 s without the stream, 30 s with it).
  let every = REFRESH_MS;
  let timer = null;
  const poll = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (document.visibilityState === "visible") draw().catch(() => {});
      poll();
    }, every);
  };
  const stopLive = follow(`/orders/${id}/live`, {
    onState: (state) => {
      main.dataset.live = state;
      every = state === "live" ? SLOW_REFRESH_MS : REFRESH_MS;
      poll();
    },
    onEvent: (event) => {
      if (event.type !== "ready") draw().catch(() => {});
    },
  });
  poll();
  const positions = setInterval(() => {
    if (document.visibilityState === "visible" && ON_ITS_WAY.has(status)) refreshTracking();
  }, POSITION_MS);
  return () => {
    stopLive();
    clearTimeout(timer);
    clearInterval(positions);
    trackingView?.map.destroy();
  };
}
