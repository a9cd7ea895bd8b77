// Charts for the office and the analytics pages: uPlot, bundled from npm into /static/vendor by `npm run build`
// (never a CDN), loaded on first use. Every chart comes with its figures as a table (screen readers, printing,
// and a server where the bundle was not built: the table is then all there is).
import { h, uid } from "./dom.js";
import { currentLang, t } from "./i18n.js";

const VENDOR = "/static/vendor";
// Distinguishable colours with at least 3:1 contrast on white (lines and bars are not text).
export const PALETTE = ["#0b5d3b", "#1457d6", "#b35c00", "#8a2be2", "#b3141b", "#00838f"];

let uplotPromise = null;

/** uPlot, or null when the vendored bundle is missing (the figures are shown as a table only). */
export function loadUplot() {
  uplotPromise ||= import(`${VENDOR}/uplot.js`)
    .then((module) => {
      if (!document.querySelector("link[data-uplot]")) {
        document.head.append(h("link", { rel: "stylesheet", href: `${VENDOR}/uplot.css`, dataset: { uplot: "1" } }));
      }
      return module.default;
    })
    .catch((error) => {
      console.warn("chart library unavailable:", error);
      return null;
    });
  return uplotPromise;
}

/** A date (YYYY-MM-DD or Date) as seconds since the epoch, the x of a time chart. */
export function epochSeconds(value) {
  if (value instanceof Date) return value.getTime() / 1000;
  const [y, m, d] = String(value).slice(0, 10).split("-").map(Number);
  return Date.UTC(y, m - 1, d || 1) / 1000;
}

function dateLabel(seconds, options) {
  return new Intl.DateTimeFormat(currentLang(), { timeZone: "UTC", ...options }).format(new Date(seconds * 1000));
}

/** Labels of a time axis in the page's language (uPlot's own are English). */
export function dayLabel(seconds) {
  return dateLabel(seconds, { month: "short", day: "numeric" });
}

export function monthLabel(seconds) {
  return dateLabel(seconds, { year: "numeric", month: "short" });
}

/** A month under an axis: its short name, with the year on January. */
export function monthTick(seconds) {
  const january = new Date(seconds * 1000).getUTCMonth() === 0;
  return dateLabel(seconds, january ? { year: "2-digit", month: "short" } : { month: "short" });
}

function figuresTable({ caption, columns, rows }) {
  return h(
    "table",
    { class: "data-table chart-figures" },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, columns.map((c, i) => h("th", { scope: "col", class: i ? "num" : "" }, c)))),
    h(
      "tbody",
      {},
      rows.map((row) => h("tr", {}, row.map((cell, i) => (i ? h("td", { class: "num" }, cell) : h("th", { scope: "row" }, cell))))),
    ),
  );
}

function legend(series) {
  return h(
    "ul",
    { class: "chart-legend" },
    series.map((s, i) =>
      h("li", {}, h("span", { class: `chart-swatch chart-swatch-${i % PALETTE.length}`, "aria-hidden": "true" }), s.label),
    ),
  );
}

/**
 * A chart with its figures:
 *   chart({title, kind: "line" | "step" | "bar", x: [...], xLabel: (x) => text, series: [{label, values}], format})
 * `x` are seconds since the epoch for a time axis (`time: true`, the default for line and step), or categories
 * (bars), named by `xLabel` in the table and by `tick` (shorter, default `xLabel`) under the axis. `format` writes a
 * value (axis and table); `integers: true` for counts. `titleShown: false` leaves the title to a heading above (it still names the figure).
 * Returns {element, destroy}; the canvas is drawn once the element is in the page, and follows its width.
 */
export function chart({
  title,
  kind = "line",
  x,
  xLabel,
  tick = xLabel,
  series,
  format = String,
  time = kind !== "bar",
  height = 240,
  titleShown = true,
  integers = false,
}) {
  const id = uid("chart");
  const plot = h("div", { class: "chart-plot", role: "img", "aria-label": title });
  const table = figuresTable({
    caption: title,
    columns: [t("charts.period"), ...series.map((s) => s.label)],
    rows: x.map((value, i) => [xLabel(value), ...series.map((s) => (s.values[i] == null ? "–" : format(s.values[i])))]),
  });
  const details = h("details", { class: "chart-table" }, h("summary", {}, t("charts.show_figures")), table);
  const element = h(
    "figure",
    { class: "chart", id },
    h("figcaption", { class: titleShown ? "chart-title" : "visually-hidden" }, title),
    series.length > 1 ? legend(series) : null,
    plot,
    details,
  );
  let instance = null;
  let observer = null;
  let destroyed = false;

  function options(uPlot, width) {
    const bars = kind === "bar";
    return {
      width,
      height,
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { show: !bars } },
      scales: {
        x: bars ? { time: false, range: [-0.5, x.length - 0.5] } : { time, range: () => xRange() },
        y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.08 : 1] },
      },
      axes: [
        {
          stroke: "#4d5b54",
          grid: { show: false },
          space: 64, // px between ticks, so that labels never overlap
          splits: bars ? () => x.map((_, i) => i) : undefined,
          values: (_u, splits) => splits.map((v) => (bars ? tick(x[v] ?? v) : tick(v))),
        },
        {
          stroke: "#4d5b54",
          grid: { stroke: "#e3e8e5" },
          // As wide as the longest label (money is long: "-¥40,000.00").
          size: (_u, values) => (values?.length ? Math.max(48, Math.max(...values.map((v) => String(v).length)) * 7.5 + 20) : 48),
          values: (_u, splits) => splits.map(format),
          // Counts step by whole numbers (never "0, 0, 1, 1").
          incrs: integers ? [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 50_000, 100_000] : undefined,
        },
      ],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: PALETTE[i % PALETTE.length],
          fill: bars ? PALETTE[i % PALETTE.length] : undefined,
          width: bars ? 0 : 2,
          points: { show: false },
          paths: bars
            ? uPlot.paths.bars({ size: [series.length > 1 ? 0.4 : 0.6, 60], align: series.length > 1 ? (i ? 1 : -1) : 0 })
            : kind === "step"
              ? uPlot.paths.stepped({ align: 1 })
              : undefined,
        })),
      ],
    };
  }

  async function draw() {
    const uPlot = await loadUplot();
    if (!uPlot || destroyed) {
      if (!uPlot) {
        plot.hidden = true;
        details.open = true;
      }
      return;
    }
    const width = Math.max(240, plot.clientWidth || element.clientWidth || 600);
    const data = [bars(x), ...series.map((s) => s.values.map((v) => (v == null ? null : v)))];
    instance = new uPlot(options(uPlot, width), data, plot);
    observer = new ResizeObserver(() => {
      const next = Math.max(240, plot.clientWidth);
      if (instance && Math.abs(next - instance.width) > 2) instance.setSize({ width: next, height });
    });
    observer.observe(plot);
  }

  /** The x range of a line: its points, and a day either side when there is only one. */
  function xRange() {
    const low = Math.min(...x);
    const high = Math.max(...x);
    return low === high ? [low - 86_400, high + 86_400] : [low, high];
  }

  function bars(values) {
    return kind === "bar" ? values.map((_, i) => i) : values;
  }

  // Drawn once the figure is in the document (its width is known then); a figure never shown is let go.
  let frames = 0;
  requestAnimationFrame(function waitForPage() {
    if (destroyed || ++frames > 600) return;
    if (element.isConnected) draw();
    else requestAnimationFrame(waitForPage);
  });

  return {
    element,
    destroy() {
      destroyed = true;
      observer?.disconnect();
      instance?.destroy();
    },
  };
}
