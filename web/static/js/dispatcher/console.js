// The console's one screen: a day's orders, the planning job with its progress, and the day's plan.
import { allPages, api } from "../core/api.js";
import { loadDepots, loadProducts } from "../core/catalogue.js";
import { h, isoDay, money, number } from "../core/dom.js";
import { errorText } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { follow } from "../core/live.js";
import { banner, setTitle } from "../core/shell.js";
import { errorState } from "../core/ui.js";
import { routeColour } from "../map/map.js";
import { loadDayOrders, ordersPanel } from "./orders-panel.js";
import { drawPlan } from "./plan-view.js";

const JOB_POLL_MS = 1000;
const SLOW_POLL_MS = 20_000; // a safety net while the live stream runs
const FAST_POLL_MS = 5000; // no live stream: look more often
const POSITIONS_MS = 15_000;
const ON_THE_ROAD = new Set(["loaded", "en_route"]);

function planningPanel(depots, onStart) {
  const limit = h("input", { name: "time_limit_s", id: "time-limit", type: "number", min: "1", max: "600", value: "10", inputmode: "numeric" });
  const depot = h(
    "select",
    { name: "depot_id", id: "plan-depot" },
    h("option", { value: "" }, t("dispatcher.all_depots")),
    depots.map((d) => h("option", { value: d.id }, d.name)),
  );
  const form = h(
    "form",
    { class: "plan-form", novalidate: true },
    h("div", { class: "field field-inline" }, h("label", { for: depot.id }, t("filters.depot")), depot),
    h("div", { class: "field field-inline" }, h("label", { for: limit.id }, t("dispatcher.time_limit")), limit),
    h("button", { type: "submit", class: "btn btn-primary", id: "plan-button" }, t("dispatcher.plan")),
  );
  const progress = h("progress", { id: "plan-progress", max: "1", value: "0", "aria-labelledby": "plan-progress-label" });
  const label = h("span", { id: "plan-progress-label" }, t("dispatcher.progress"));
  const state = h("p", { class: "job-state", id: "job-state", "aria-live": "polite" });
  const cancel = h("button", { type: "button", class: "btn btn-small btn-danger-outline", id: "plan-cancel", hidden: true }, t("dispatcher.cancel_plan"));
  const job = h("div", { class: "job", id: "plan-job", hidden: true, dataset: { status: "" } }, h("div", { class: "job-bar" }, label, progress), state, cancel);
  const element = h(
    "section",
    { class: "card planning", "aria-labelledby": "planning-title" },
    h("h2", { id: "planning-title" }, t("dispatcher.planning")),
    form,
    job,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const seconds = Math.max(1, Math.min(600, Number.parseInt(limit.value, 10) || 10));
    onStart({ time_limit_s: seconds, depot_id: depot.value || undefined });
  });
  return {
    element,
    form,
    cancel,
    show(status, { progress: fraction = 0, best_cost: cost = null, error = null } = {}) {
      job.hidden = false;
      job.dataset.status = status;
      progress.value = status === "succeeded" ? 1 : fraction;
      const pct = `${number(Math.round((status === "succeeded" ? 1 : fraction) * 100))} %`;
      const parts = [t(`job.${status}`), pct];
      if (cost !== null && cost !== undefined) parts.push(t("dispatcher.best_cost", { cost: money(cost) }));
      state.replaceChildren(parts.join(" · "));
      if (error) state.append(h("span", { class: "field-error" }, ` ${error}`));
      cancel.hidden = !(status === "queued" || status === "running");
      form.querySelector("#plan-button").toggleAttribute("disabled", !cancel.hidden);
    },
  };
}

export async function consoleView(main, _params, ctx) {
  setTitle("dispatcher.title");
  const day = ctx.query.get("date") || isoDay(1);
  const dateInput = h("input", { type: "date", name: "date", id: "day", value: day });
  dateInput.addEventListener("change", () => {
    if (dateInput.value) ctx.navigate(`/app/dispatcher?date=${dateInput.value}`, { replace: true });
  });
  const liveChip = h("span", { class: "chip chip-muted", id: "live-state" }, t("live.connecting"));
  main.append(
    h(
      "div",
      { class: "page-header" },
      h("h1", {}, t("dispatcher.title")),
      h("div", { class: "header-tools" }, h("label", { for: "day" }, t("dispatcher.day")), dateInput, liveChip),
    ),
  );
  let depots;
  let products;
  let tankers;
  try {
    [depots, products, tankers] = await Promise.all([loadDepots(), loadProducts(), allPages("/tankers")]);
  } catch (error) {
    main.append(errorState(error, () => ctx.navigate(`/app/dispatcher?date=${day}`, { replace: true })));
    return undefined;
  }
  if (!ctx.isCurrent()) return undefined;

  const orders = ordersPanel();
  const planning = planningPanel(depots, startPlanning);
  const planBox = h("section", { class: "card plan", id: "plan", "aria-labelledby": "plan-title" }, h("h2", { id: "plan-title" }, t("plan.none_title")), h("p", { class: "muted" }, t("plan.none")));
  main.append(h("div", { class: "dispatch-top" }, orders.element, planning.element), planBox);

  let plan = null;
  let planView = null;
  let jobTimer = null;
  let jobId = null;
  let positionsTimer = null;
  let stopped = false;

  function stopsByOrder(p) {
    const out = new Map();
    for (const route of p?.routes || []) {
      for (const trip of route.trips) for (const stop of trip.stops) out.set(stop.order_id, { ...stop, plate: route.plate });
    }
    return out;
  }

  async function refreshOrders() {
    const list = await loadDayOrders(day);
    if (stopped) return;
    orders.show(list, { depots, products, stopsByOrder: stopsByOrder(plan) });
  }

  async function showPlan(planId) {
    const [p, geojson] = await Promise.all([api(`/plans/${planId}`), api(`/plans/${planId}/geojson`)]);
    if (stopped) return;
    plan = p;
    planView = drawPlan(planBox, plan, {
      tankers,
      geojson,
      onReplan: () => planning.form.requestSubmit(),
      onChanged: (answer) => showPlan(answer.id).catch(report),
      onPublished: (answer) => {
        showPlan(answer.id).catch(report);
        refreshOrders().catch(report);
      },
    });
    orders.setStops(stopsByOrder(plan));
    refreshPositions();
  }

  /** The day's current plan: the published one, else the newest draft. */
  async function loadCurrentPlan() {
    const plans = await api(`/plans?date=${encodeURIComponent(day)}`);
    const live = plans.filter((p) => p.status !== "superseded").sort((a, b) => b.created_at.localeCompare(a.created_at));
    const chosen = plan && live.find((p) => p.id === plan.id) ? plan.id : live[0]?.id;
    if (chosen) await showPlan(chosen);
  }

  function report(error) {
    console.warn(error);
    banner(errorText(error), "error");
  }

  async function startPlanning(options) {
    try {
      const accepted = await api("/plans", { method: "POST", body: { date: day, ...options } });
      jobId = accepted.job_id;
      planning.show("queued");
      watchJob();
    } catch (error) {
      planning.show("failed", { error: errorText(error) });
    }
  }

  function watchJob() {
    clearTimeout(jobTimer);
    if (!jobId || stopped) return;
    jobTimer = setTimeout(async () => {
      try {
        const job = await api(`/plan-jobs/${jobId}`);
        if (stopped) return;
        planning.show(job.status, job);
        if (job.status === "succeeded" && job.plan_id) {
          jobId = null;
          await showPlan(job.plan_id);
          banner(t("dispatcher.plan_ready"), "ok");
          return;
        }
        if (job.status === "failed" || job.status === "cancelled") {
          jobId = null;
          return;
        }
      } catch (error) {
        planning.show("running", { error: errorText(error) });
      }
      watchJob();
    }, JOB_POLL_MS);
  }

  planning.cancel.addEventListener("click", async () => {
    if (!jobId) return;
    try {
      const job = await api(`/plan-jobs/${jobId}/cancel`, { method: "POST" });
      planning.show(job.status, job);
    } catch (error) {
      report(error);
    }
  });

  /** Tankers on the road: the latest position of each (GET /orders/{id}/tracking of an order it carries). */
  async function refreshPositions() {
    clearTimeout(positionsTimer);
    if (stopped || !plan || plan.status !== "published" || !planView) return;
    const wanted = [];
    plan.routes.forEach((route, index) => {
      const trip = route.trips.find((tr) => ON_THE_ROAD.has(tr.status));
      const stop = trip?.stops.find((s) => s.status === "planned" || s.status === "arrived") || trip?.stops[0];
      if (stop) wanted.push({ route, index, orderId: stop.order_id });
    });
    const found = await Promise.all(
      wanted.map(async ({ route, index, orderId }) => {
        try {
          const tracking = await api(`/orders/${orderId}/tracking`);
          const p = tracking.tanker?.position;
          return p ? { lon: p.lon, lat: p.lat, plate: route.plate, colour: routeColour(index), title: `${route.plate} · ${p.recorded_at}` } : null;
        } catch {
          return null;
        }
      }),
    );
    if (stopped) return;
    planView.setTankers(found.filter(Boolean));
    positionsTimer = setTimeout(refreshPositions, POSITIONS_MS);
  }

  let refreshTimer = null;
  function refreshSoon(delay = 700) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      try {
        await refreshOrders();
        if (plan) await showPlanKeepingScroll(plan.id);
      } catch (error) {
        console.warn("refresh failed", error);
      }
    }, delay);
  }

  async function showPlanKeepingScroll(planId) {
    // Re-drawing the plan must not lose an open pin form or the reader's place: only redraw when it changed.
    const fresh = await api(`/plans/${planId}`);
    const fingerprint = (p) => JSON.stringify([p.status, p.outdated, p.stale_orders, p.new_orders, p.routes.map((r) => r.trips.map((tr) => [tr.status, tr.stops.map((s) => [s.status, s.pinned])]))]);
    if (plan && fingerprint(fresh) === fingerprint(plan)) return;
    const y = window.scrollY;
    await showPlan(planId);
    window.scrollTo(0, y);
  }

  let pollTimer = null;
  let pollEvery = FAST_POLL_MS;
  function poll() {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(() => {
      if (document.visibilityState === "visible") refreshSoon(0);
      poll();
    }, pollEvery);
  }

  const stopLive = follow("/dispatch/live", {
    onState: (stateName) => {
      liveChip.className = `chip ${stateName === "live" ? "chip-ok" : "chip-muted"}`;
      liveChip.textContent = t(`live.${stateName}`);
      pollEvery = stateName === "live" ? SLOW_POLL_MS : FAST_POLL_MS;
      poll();
    },
    onEvent: (event) => {
      const payload = event.data;
      if (!payload || typeof payload !== "object" || !payload.subject_type) return;
      if (payload.subject_type === "order" || payload.subject_type === "trip" || payload.subject_type === "plan") refreshSoon();
    },
  });

  try {
    await refreshOrders();
    await loadCurrentPlan();
  } catch (error) {
    main.append(errorState(error));
  }
  poll();

  return () => {
    stopped = true;
    stopLive();
    clearTimeout(jobTimer);
    clearTimeout(positionsTimer);
    clearTimeout(refreshTimer);
    clearTimeout(pollTimer);
  };
}
