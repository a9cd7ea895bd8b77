// Today's trips (or another day's), in order: load code, departure, and each stop with address, window, quantity.
import { api } from "../core/api.js";
import { depotById, productLabel } from "../core/catalogue.js";
import { day, h, isoDay, litres, time } from "../core/dom.js";
import { errorText } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { emptyState, errorState, statusChip } from "../core/ui.js";
import { followRoute, gpsState, onGpsState } from "./gps.js";

export const TZ = "Asia/Shanghai";
const REFRESH_MS = 30_000;

/** GET /driver/route?date= (null when the driver has no published route that day). */
export function loadRoute(date) {
  return api(`/driver/route?date=${encodeURIComponent(date)}`);
}

export function findStop(plan, stopId) {
  for (const route of plan?.routes || []) {
    for (const trip of route.trips) {
      const stop = trip.stops.find((s) => s.id === stopId);
      if (stop) return { route, trip, stop };
    }
  }
  return null;
}

export function dayOf(ctx) {
  return ctx.query.get("date") || isoDay(0, TZ);
}

const TRIP_TONE = { planned: "neutral", loaded: "info", en_route: "info", done: "ok" };

export function tripChip(status) {
  return h("span", { class: `chip chip-${TRIP_TONE[status] || "neutral"}`, dataset: { tripStatus: status } }, t(`trip.status_${status}`));
}

export function stopChip(status) {
  const tone = { planned: "neutral", arrived: "info", delivered: "ok", failed: "bad" }[status] || "neutral";
  return h("span", { class: `chip chip-${tone}`, dataset: { stopStatus: status } }, t(`stop.status_${status}`));
}

function gpsChip() {
  const chip = h("span", { class: "chip", id: "gps-state" });
  const draw = (state) => {
    chip.className = `chip ${state === "sharing" ? "chip-ok" : state === "denied" || state === "unavailable" ? "chip-warn" : "chip-muted"}`;
    chip.textContent = t(`gps.${state}`);
    chip.dataset.state = state;
  };
  draw(gpsState());
  return { chip, off: onGpsState(draw) };
}

function dayTabs(current) {
  const today = isoDay(0, TZ);
  const tomorrow = isoDay(1, TZ);
  const tab = (date, key) =>
    h("a", { class: "btn day-tab", href: `/app/driver?date=${date}`, "aria-current": current === date ? "page" : false }, t(key));
  return h("nav", { class: "day-tabs", "aria-label": t("driver.day") }, tab(today, "driver.today"), tab(tomorrow, "driver.tomorrow"));
}

async function tripCard(trip, date, onChange) {
  const depot = await depotById(trip.depot_id);
  const loads = await Promise.all(
    trip.loads.map(async (l) => h("li", {}, `${t("driver.compartment", { n: l.compartment + 1 })}: ${await productLabel(l.product)} ${litres(l.litres)}`)),
  );
  const actions = h("div", { class: "actions" });
  if (trip.status === "planned") {
    actions.append(h("a", { class: "btn btn-primary btn-big", href: `/app/driver/trips/${trip.id}/code?date=${date}` }, t("driver.show_load_code")));
  }
  if (trip.status === "loaded") {
    const depart = h("button", { type: "button", class: "btn btn-primary btn-big", dataset: { depart: trip.id } }, t("driver.depart"));
    depart.addEventListener("click", async () => {
      depart.setAttribute("aria-disabled", "true");
      try {
        await api(`/driver/trips/${trip.id}/depart`, { method: "POST" });
        banner(t("driver.departed"), "ok");
        onChange();
      } catch (error) {
        depart.removeAttribute("aria-disabled");
        banner(errorText(error), "error");
      }
    });
    actions.append(depart);
  }
  const stops = trip.stops.map(async (stop) =>
    h(
      "li",
      { class: "driver-stop", dataset: { stop: stop.id, status: stop.status } },
      h(
        "a",
        { class: "driver-stop-link", href: `/app/driver/stops/${stop.id}?date=${date}` },
        h("span", { class: "stop-badge", "aria-hidden": "true" }, String(stop.sequence)),
        h(
          "span",
          { class: "driver-stop-text" },
          h("span", { class: "driver-stop-title" }, h("strong", {}, `${stop.sequence}. ${stop.site_name}`), " ", stopChip(stop.status)),
          h("span", { class: "driver-stop-address" }, stop.address),
          h(
            "span",
            { class: "driver-stop-facts" },
            `${t("plan.window")} ${time(stop.window_start, TZ)}–${time(stop.window_end, TZ)} · ${await productLabel(stop.product_code)} ${litres(stop.litres)}`,
          ),
        ),
      ),
    ),
  );
  return h(
    "section",
    { class: "card trip-card", dataset: { trip: trip.id, status: trip.status }, "aria-labelledby": `trip-${trip.id}` },
    h("h2", { id: `trip-${trip.id}` }, t("plan.trip_n", { n: trip.sequence }), " ", tripChip(trip.status)),
    h(
      "p",
      { class: "trip-facts" },
      `${t("driver.load_at", { depot: depot?.name || "—", time: time(trip.load_start, TZ) })} · ${t("driver.back_at", { time: time(trip.return_at, TZ) })}`,
    ),
    h("ul", { class: "loads" }, loads),
    actions,
    h("ol", { class: "driver-stops" }, await Promise.all(stops)),
  );
}

export async function routeView(main, _params, ctx) {
  setTitle("driver.route_title");
  const date = dayOf(ctx);
  const gps = gpsChip();
  const content = h("div", { class: "route-content" });
  main.append(
    h("div", { class: "page-header" }, h("h1", {}, t("driver.route_title")), gps.chip),
    dayTabs(date),
    h("p", { class: "muted" }, day(date)),
    content,
  );
  let lastSeen = "";

  async function draw() {
    const plan = await loadRoute(date);
    if (!ctx.isCurrent()) return;
    followRoute(date === isoDay(0, TZ) || date === isoDay(1, TZ) ? plan : null);
    const seen = JSON.stringify(plan?.routes?.map((r) => r.trips.map((tr) => [tr.status, tr.stops.map((s) => s.status)])) ?? null);
    if (seen === lastSeen) return;
    lastSeen = seen;
    if (!plan || !plan.routes.length) {
      content.replaceChildren(emptyState("driver.no_route"));
      return;
    }
    const parts = [];
    for (const route of plan.routes) {
      parts.push(h("p", { class: "tanker-line" }, `${t("order.tanker")}: `, h("strong", {}, route.plate)));
      for (const trip of route.trips) parts.push(await tripCard(trip, date, () => draw().catch(() => {})));
    }
    content.replaceChildren(...parts);
  }

  try {
    await draw();
  } catch (error) {
    content.replaceChildren(errorState(error, () => ctx.navigate(`/app/driver?date=${date}`, { replace: true })));
  }
  const timer = setInterval(() => {
    if (document.visibilityState === "visible") draw().catch(() => {});
  }, REFRESH_MS);
  return () => {
    clearInterval(timer);
    gps.off();
  };
}
