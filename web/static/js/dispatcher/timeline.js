// The plan as a timeline (SVG): one row per tanker, its day against its shift — loading, driving, waiting,
// delivering, idle — with each stop's delivery window drawn under it.
import { h, time } from "../core/dom.js";
import { t } from "../core/i18n.js";
import { routeColour } from "../map/map.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const LABEL_W = 150;
const ROW_H = 50;
const AXIS_H = 26;
const MIN_W = 760;
const HOUR = 3_600_000;

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") el.textContent = value;
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) if (child) el.append(child);
  return el;
}

function offsetOf(ms, timeZone) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(ms));
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  return Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second")) - ms;
}

/** The instant of a wall-clock time ("06:00" or "06:00:00") on a calendar day in a time zone. */
export function zonedInstant(isoDate, clock, timeZone) {
  const [y, m, d] = isoDate.split("-").map(Number);
  const [hh, mm] = clock.split(":").map(Number);
  const guess = Date.UTC(y, m - 1, d, hh, mm);
  let at = guess - offsetOf(guess, timeZone);
  const second = guess - offsetOf(at, timeZone);
  if (second !== at) at = second;
  return at;
}

const ms = (iso) => new Date(iso).getTime();

/** Segments of one tanker's day: [{kind, from, to, title}] plus the stops' windows. */
export function segmentsOf(route, shift) {
  const segments = [];
  const windows = [];
  let cursor = shift ? shift.start : null;
  const trips = [...route.trips].sort((a, b) => ms(a.load_start) - ms(b.load_start));
  for (const trip of trips) {
    const load = ms(trip.load_start);
    if (cursor !== null && load > cursor) segments.push({ kind: "idle", from: cursor, to: load });
    segments.push({ kind: "loading", from: load, to: ms(trip.depart), title: `${t("timeline.loading")} · ${t("plan.trip_n", { n: trip.sequence })}` });
    let at = ms(trip.depart);
    for (const stop of trip.stops) {
      const arrival = ms(stop.planned_arrival);
      const service = ms(stop.service_start);
      const leave = ms(stop.planned_departure);
      if (arrival > at) segments.push({ kind: "driving", from: at, to: arrival, title: t("timeline.driving") });
      if (service > arrival) segments.push({ kind: "waiting", from: arrival, to: service, title: `${t("timeline.waiting")} · ${stop.site_name}` });
      segments.push({
        kind: "delivering",
        from: service,
        to: leave,
        title: `#${stop.sequence} ${stop.site_name} · ${stop.litres} L`,
        number: stop.sequence,
      });
      windows.push({ from: ms(stop.window_start), to: ms(stop.window_end), number: stop.sequence, site: stop.site_name });
      at = leave;
    }
    const back = ms(trip.return_at);
    if (back > at) segments.push({ kind: "driving", from: at, to: back, title: t("timeline.returning") });
    cursor = back;
  }
  if (shift && cursor !== null && shift.end > cursor) segments.push({ kind: "idle", from: cursor, to: shift.end });
  return { segments, windows };
}

/**
 * The timeline element for a plan (GET /plans/{id}); `tankers` from GET /tankers give the shifts.
 * Returns a <div> with the SVG (scrolls sideways on narrow screens) and a legend.
 */
export function planTimeline(plan, tankers, timeZone = "Asia/Shanghai") {
  const byId = new Map(tankers.map((tk) => [tk.id, tk]));
  const rows = plan.routes.map((route, index) => {
    const tanker = byId.get(route.tanker_id);
    const shift = tanker
      ? { start: zonedInstant(plan.date, tanker.shift_start, timeZone), end: zonedInstant(plan.date, tanker.shift_end, timeZone) }
      : null;
    return { route, index, shift, ...segmentsOf(route, shift) };
  });
  const wrapper = h("div", { class: "timeline-chart" });
  if (!rows.length) {
    wrapper.append(h("p", { class: "muted" }, t("plan.no_routes")));
    return wrapper;
  }
  let start = Infinity;
  let end = -Infinity;
  for (const row of rows) {
    for (const s of row.segments) {
      start = Math.min(start, s.from);
      end = Math.max(end, s.to);
    }
    for (const w of row.windows) {
      start = Math.min(start, w.from);
      end = Math.max(end, w.to);
    }
    if (row.shift) {
      start = Math.min(start, row.shift.start);
      end = Math.max(end, row.shift.end);
    }
  }
  start = Math.floor(start / HOUR) * HOUR;
  end = Math.ceil(end / HOUR) * HOUR;
  const hours = Math.max(1, (end - start) / HOUR);
  const scroller = h("div", { class: "timeline-scroll", tabindex: "0", role: "region", "aria-label": t("plan.timeline") });
  wrapper.append(scroller);

  function render() {
    const width = Math.max(MIN_W, Math.round(scroller.clientWidth || MIN_W));
    const height = AXIS_H + rows.length * ROW_H + 8;
    const x = (at) => LABEL_W + ((at - start) / (end - start)) * (width - LABEL_W - 12);
    const chart = svg("svg", {
      class: "timeline-svg",
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": t("timeline.label", { n: rows.length }),
    });
    const axis = svg("g", { class: "tl-axis" });
    const step = hours > 16 ? 2 : 1;
    for (let at = start; at <= end; at += step * HOUR) {
      const px = x(at).toFixed(1);
      axis.append(
        svg("line", { x1: px, x2: px, y1: AXIS_H - 4, y2: height - 4, class: "tl-hour" }),
        svg("text", { x: px, y: AXIS_H - 9, "text-anchor": "middle", class: "tl-hour-label", text: time(new Date(at).toISOString(), timeZone) }),
      );
    }
    chart.append(axis);
    rows.forEach((row, i) => {
      const top = AXIS_H + i * ROW_H;
      const g = svg("g", { class: "tl-row", "data-tanker": row.route.tanker_id, "data-plate": row.route.plate });
      g.append(
        svg("rect", { x: 0, y: top, width, height: ROW_H, class: i % 2 ? "tl-band tl-band-odd" : "tl-band" }),
        svg("rect", { x: 6, y: top + 12, width: 8, height: ROW_H - 24, rx: 2, fill: routeColour(row.index) }),
        svg("text", { x: 20, y: top + 21, class: "tl-plate", text: row.route.plate }),
        svg("text", { x: 20, y: top + 38, class: "tl-driver", text: row.route.driver_name || "—" }),
      );
      if (row.shift) {
        g.append(
          svg(
            "rect",
            { x: x(row.shift.start), y: top + 6, width: Math.max(1, x(row.shift.end) - x(row.shift.start)), height: ROW_H - 12, class: "tl-shift" },
            svg("title", { text: `${t("timeline.shift")} ${time(new Date(row.shift.start).toISOString(), timeZone)}–${time(new Date(row.shift.end).toISOString(), timeZone)}` }),
          ),
        );
      }
      for (const s of row.segments) {
        const from = x(s.from);
        const w = Math.max(1.5, x(s.to) - from);
        const rect = svg(
          "rect",
          { x: from.toFixed(1), y: top + 10, width: w.toFixed(1), height: 20, class: `tl-seg tl-${s.kind}`, "data-kind": s.kind },
          svg("title", { text: `${s.title || t(`timeline.${s.kind}`)} · ${time(new Date(s.from).toISOString(), timeZone)}–${time(new Date(s.to).toISOString(), timeZone)}` }),
        );
        g.append(rect);
        if (s.kind === "delivering" && w > 14) {
          g.append(svg("text", { x: (from + w / 2).toFixed(1), y: top + 24.5, "text-anchor": "middle", class: "tl-stop-number", text: s.number }));
        }
      }
      for (const win of row.windows) {
        const from = x(win.from);
        const to = x(win.to);
        g.append(
          svg(
            "g",
            { class: "tl-window" },
            svg("title", { text: `${t("timeline.window")} #${win.number} ${win.site} ${time(new Date(win.from).toISOString(), timeZone)}–${time(new Date(win.to).toISOString(), timeZone)}` }),
            svg("line", { x1: from.toFixed(1), x2: to.toFixed(1), y1: top + 37, y2: top + 37 }),
            svg("line", { x1: from.toFixed(1), x2: from.toFixed(1), y1: top + 33, y2: top + 41 }),
            svg("line", { x1: to.toFixed(1), x2: to.toFixed(1), y1: top + 33, y2: top + 41 }),
          ),
        );
      }
      chart.append(g);
    });
    scroller.replaceChildren(chart);
  }

  const legend = h(
    "ul",
    { class: "tl-legend" },
    ["loading", "driving", "waiting", "delivering", "idle"].map((kind) =>
      h("li", {}, h("span", { class: `tl-key tl-${kind}` }), t(`timeline.${kind}`)),
    ),
    h("li", {}, h("span", { class: "tl-key tl-key-shift" }), t("timeline.shift")),
    h("li", {}, h("span", { class: "tl-key tl-key-window" }), t("timeline.window")),
  );
  wrapper.append(legend);
  let lastWidth = 0;
  const observer = new ResizeObserver(() => {
    const w = Math.round(scroller.clientWidth);
    if (w && Math.abs(w - lastWidth) > 2) {
      lastWidth = w;
      render();
    }
  });
  observer.observe(scroller);
  render();
  return wrapper;
}
