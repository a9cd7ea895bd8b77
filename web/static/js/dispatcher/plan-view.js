// One plan: outdated banner, totals, publish (with the stale-plan refusal in words), the map with live tankers,
// the timeline, routes with their stops (pin / move), unassigned orders with reasons, and the planner's notes.
import { api } from "../core/api.js";
import { dateTime, h, litres, money, number, time } from "../core/dom.js";
import { errorText } from "../core/forms.js";
import { has, t } from "../core/i18n.js";
import { banner } from "../core/shell.js";
import { createMap, planLayers, routeColour } from "../map/map.js";
import { planTimeline } from "./timeline.js";

const TZ = "Asia/Shanghai";

export function planStatusChip(status) {
  const tone = { draft: "warn", published: "ok", superseded: "muted" }[status] || "neutral";
  return h("span", { class: `chip chip-${tone}`, dataset: { planStatus: status } }, has(`plan.status_${status}`) ? t(`plan.status_${status}`) : status);
}

function outdatedBanner(plan, onReplan) {
  if (!plan.outdated || plan.status === "superseded") return null;
  const parts = [];
  if (plan.stale_orders.length) parts.push(t("plan.outdated_stale", { n: plan.stale_orders.length }));
  if (plan.new_orders.length) parts.push(t("plan.outdated_new", { n: plan.new_orders.length }));
  if (!parts.length) parts.push(t("plan.outdated_pins"));
  return h(
    "div",
    { class: "notice warn outdated", role: "status", id: "outdated-banner" },
    h("p", {}, h("strong", {}, t("plan.outdated_title")), " ", parts.join(" ")),
    h("button", { type: "button", class: "btn btn-small", onclick: onReplan }, t("plan.replan")),
  );
}

function totalsList(plan) {
  const tt = plan.totals;
  return h(
    "dl",
    { class: "plan-totals" },
    [
      ["plan.total_orders", number(tt.orders)],
      ["plan.total_litres", litres(tt.litres)],
      ["plan.total_km", `${number(tt.km, 1)} km`],
      ["plan.total_driving", `${number(tt.driving_hours, 1)} h`],
      ["plan.total_duty", `${number(tt.duty_hours, 1)} h`],
      ["plan.total_cost", money(tt.cost_minor)],
    ].map(([key, value]) => h("div", {}, h("dt", {}, t(key)), h("dd", {}, value))),
  );
}

function unassignedText(u) {
  return has(`unassigned.${u.reason}`) ? t(`unassigned.${u.reason}`) : u.reason.replaceAll("_", " ");
}

/**
 * The pin form of one stop: which tanker, which position. On a draft the API moves the stop at once
 * (or answers which rule the move breaks); the pin itself survives every re-plan.
 * onChanged(planOut) gets the API's answer.
 */
function pinControls(plan, route, stop, tankers, onChanged) {
  const box = h("div", { class: "pin-box" });
  const toggle = h(
    "button",
    { type: "button", class: "btn btn-small", "aria-expanded": "false", dataset: { pinFor: stop.id } },
    t(stop.pinned ? "plan.pin_change" : "plan.pin_move"),
  );
  const form = h("form", { class: "pin-form", hidden: true, novalidate: true });
  const tankerSelect = h(
    "select",
    { name: "tanker_id", id: `pin-tanker-${stop.id}` },
    tankers.filter((tk) => tk.available).map((tk) => h("option", { value: tk.id, selected: tk.id === route.tanker_id }, tk.plate)),
  );
  const position = h("input", {
    name: "position",
    id: `pin-position-${stop.id}`,
    type: "number",
    min: "1",
    max: "200",
    inputmode: "numeric",
    placeholder: String(stop.sequence),
  });
  const error = h("p", { class: "field-error", role: "alert" });
  form.append(
    h("div", { class: "field field-inline" }, h("label", { for: tankerSelect.id }, t("plan.pin_tanker")), tankerSelect),
    h("div", { class: "field field-inline" }, h("label", { for: position.id }, t("plan.pin_position")), position),
    h("button", { type: "submit", class: "btn btn-small btn-primary" }, t("plan.pin_save")),
    stop.pinned ? h("button", { type: "button", class: "btn btn-small", dataset: { unpin: stop.id } }, t("plan.unpin")) : null,
    error,
  );
  toggle.addEventListener("click", () => {
    form.hidden = !form.hidden;
    toggle.setAttribute("aria-expanded", String(!form.hidden));
    if (!form.hidden) tankerSelect.focus();
  });
  async function send(body) {
    error.textContent = "";
    try {
      const answer = await api(`/plans/${plan.id}/stops/${stop.id}`, { method: "PATCH", body });
      banner(t(body.pinned ? "plan.pinned_hint" : "plan.unpinned_hint"), "info");
      onChanged(answer);
    } catch (err) {
      error.textContent = errorText(err);
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { pinned: true, tanker_id: tankerSelect.value };
    const n = Number.parseInt(position.value, 10);
    if (Number.isFinite(n) && n > 0) body.position = n;
    send(body);
  });
  form.querySelector("[data-unpin]")?.addEventListener("click", () => send({ pinned: false }));
  box.append(toggle, form);
  return box;
}

function routeCard(plan, route, index, tankers, onChanged) {
  const trips = route.trips.map((trip) =>
    h(
      "li",
      { class: "trip", dataset: { trip: trip.id } },
      h(
        "p",
        { class: "trip-head" },
        h("strong", {}, t("plan.trip_n", { n: trip.sequence })),
        ` · ${t("plan.trip_times", { load: time(trip.load_start, TZ), depart: time(trip.depart, TZ), back: time(trip.return_at, TZ) })}`,
        ` · ${number(trip.distance_km, 1)} km`,
        trip.status !== "planned" ? [" ", h("span", { class: "chip chip-info" }, t(`trip.status_${trip.status}`))] : null,
      ),
      h(
        "ol",
        { class: "stops" },
        trip.stops.map((stop) =>
          h(
            "li",
            { class: "stop-row", dataset: { stop: stop.id, order: stop.order_id } },
            h("span", { class: "stop-number", dataset: { colour: routeColour(index) } }, String(stop.sequence)),
            h(
              "div",
              { class: "stop-main" },
              h("p", {}, h("strong", {}, stop.order_reference), ` · ${stop.site_name}`, stop.pinned ? [" ", h("span", { class: "chip chip-warn" }, t("plan.pinned"))] : null),
              h(
                "p",
                { class: "small muted" },
                `${t("plan.window")} ${time(stop.window_start, TZ)}–${time(stop.window_end, TZ)} · ${t("plan.eta")} ${time(stop.planned_arrival, TZ)} · ${litres(stop.litres)}`,
              ),
            ),
            plan.status === "draft" ? pinControls(plan, route, stop, tankers, onChanged) : null,
          ),
        ),
      ),
    ),
  );
  const card = h(
    "li",
    { class: "route-card", dataset: { tanker: route.tanker_id } },
    h(
      "h3",
      {},
      h("span", { class: "map-swatch", dataset: { colour: routeColour(index) } }),
      route.plate,
      h("span", { class: "muted small" }, ` · ${route.driver_name || t("plan.no_driver")}`),
    ),
    h("ol", { class: "trips" }, trips),
  );
  for (const el of card.querySelectorAll("[data-colour]")) el.style.background = el.dataset.colour;
  return card;
}

/**
 * Draw `plan` into `root`. ctx: {tankers, geojson, onReplan(), onChanged(planOut), onPublished(planOut)}.
 * Returns {map, setTankers(positions)} so the caller can move tankers without redrawing everything.
 */
export function drawPlan(root, plan, ctx) {
  const publishBox = h("div", { class: "publish-box", id: "publish-box" });
  if (plan.status === "draft") addPublishButton(plan, ctx, publishBox);
  const map = createMap({ aspect: 4 / 3, minHeight: 320, maxHeight: 640, className: "plan-map" });
  const base = planLayers(ctx.geojson);
  const legend = plan.routes.map((route, i) => ({ colour: routeColour(i), text: `${route.plate} · ${route.driver_name || "—"}` }));
  const label = t("plan.map_label", { routes: plan.routes.length, stops: base.stops.length });
  const setTankers = (tankers) => map.update({ ...base, legend, label, tankers });

  root.replaceChildren(
    h(
      "div",
      { class: "plan-head" },
      h("h2", { id: "plan-title" }, t("plan.title", { date: plan.date }), " ", planStatusChip(plan.status)),
      publishBox,
    ),
    outdatedBanner(plan, ctx.onReplan) || "",
    plan.published_at ? h("p", { class: "small muted" }, t("plan.published_at", { at: dateTime(plan.published_at, TZ) })) : "",
    totalsList(plan),
    h(
      "div",
      { class: "plan-grid" },
      h("section", { class: "plan-map-box", "aria-labelledby": "map-title" }, h("h3", { id: "map-title" }, t("plan.map")), map.element),
      h(
        "section",
        { class: "plan-routes", "aria-labelledby": "routes-title" },
        h("h3", { id: "routes-title" }, t("plan.routes")),
        plan.routes.length
          ? h("ol", { class: "route-cards" }, plan.routes.map((r, i) => routeCard(plan, r, i, ctx.tankers, ctx.onChanged)))
          : h("p", { class: "muted" }, t("plan.no_routes")),
      ),
    ),
    h(
      "section",
      { class: "plan-timeline", "aria-labelledby": "timeline-chart-title" },
      h("h3", { id: "timeline-chart-title" }, t("plan.timeline")),
      planTimeline(plan, ctx.tankers, TZ),
    ),
    h(
      "div",
      { class: "plan-lists" },
      h(
        "section",
        { class: "unassigned", "aria-labelledby": "unassigned-title" },
        h("h3", { id: "unassigned-title" }, t("plan.unassigned", { n: plan.unassigned.length })),
        plan.unassigned.length
          ? h(
              "ul",
              { class: "reason-list" },
              plan.unassigned.map((u) =>
                h(
                  "li",
                  { dataset: { order: u.order_id, reason: u.reason } },
                  h("strong", {}, u.order_reference),
                  ` — ${unassignedText(u)}`,
                  u.detail ? h("span", { class: "small muted" }, ` (${u.detail})`) : null,
                ),
              ),
            )
          : h("p", { class: "muted" }, t("plan.all_assigned")),
      ),
      h(
        "section",
        { class: "notes", "aria-labelledby": "notes-title" },
        h("h3", { id: "notes-title" }, t("plan.notes")),
        plan.notes.length ? h("ul", { class: "reason-list" }, plan.notes.map((n) => h("li", {}, n))) : h("p", { class: "muted" }, t("plan.no_notes")),
      ),
    ),
  );
  setTankers([]);
  return { map, setTankers };
}

function addPublishButton(plan, ctx, box) {
  const button = h("button", { type: "button", class: "btn btn-primary", id: "publish" }, t("plan.publish"));
  const message = h("div", { class: "publish-message", "aria-live": "polite" });
  async function publish(force) {
    if (button.getAttribute("aria-disabled")) return;
    button.setAttribute("aria-disabled", "true");
    message.replaceChildren();
    try {
      const answer = await api(`/plans/${plan.id}/publish`, { method: "POST", body: force ? { force: true } : {} });
      banner(t("plan.published"), "ok");
      ctx.onPublished(answer);
    } catch (error) {
      button.removeAttribute("aria-disabled");
      if (error.code === "plan_stale") {
        const anyway = h("button", { type: "button", class: "btn btn-danger-outline", id: "publish-anyway" }, t("plan.publish_anyway"));
        anyway.addEventListener("click", () => publish(true));
        message.replaceChildren(
          h(
            "div",
            { class: "notice warn", role: "alert" },
            h("p", {}, t("plan.stale_refusal")),
            h("div", { class: "actions" }, h("button", { type: "button", class: "btn", onclick: ctx.onReplan }, t("plan.replan")), anyway),
          ),
        );
      } else {
        message.replaceChildren(h("p", { class: "notice error", role: "alert" }, error.code === "plan_invalid" ? `${t("plan.invalid")} ${error.detail}` : errorText(error)));
      }
    }
  }
  button.addEventListener("click", () => publish(false));
  box.append(button, message);
}
