// A small map that needs no internet: routes, depots, numbered stops and tankers drawn in SVG from coordinates,
// on a plain background with an equirectangular projection fitted to the points. When the page shell names a
// tile server (<meta name="dd-tile-url">, from MAP_TILE_URL), OpenStreetMap tiles are drawn underneath and the
// projection becomes Web Mercator so that the points sit on the tiles.
//
// Attribution: "© OpenStreetMap contributors" is shown under every map, with tiles or without, because stop
// and site coordinates may come from OSM-derived geocoding and road geometry (OSRM) is OSM data.
import { h } from "../core/dom.js";
import { t } from "../core/i18n.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const PAD = 30;
const MIN_SPAN_DEG = 0.008;
const TILE = 256;
const MAX_ZOOM = 18;

/** Colours of routes (one per tanker), dark enough for white numbers on them (contrast ≥ 4.5:1). */
export const ROUTE_COLOURS = ["#1f5fbf", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#a16207", "#be185d"];

export function routeColour(index) {
  return ROUTE_COLOURS[((index % ROUTE_COLOURS.length) + ROUTE_COLOURS.length) % ROUTE_COLOURS.length];
}

/** The tile URL template the page shell was given (empty: no tiles). Also exposed as window.DIESEL_CONFIG. */
export function tileUrl() {
  const fromWindow = window.DIESEL_CONFIG?.tileUrl;
  if (typeof fromWindow === "string") return fromWindow;
  const value = document.querySelector('meta[name="dd-tile-url"]')?.content?.trim() || "";
  window.DIESEL_CONFIG = { ...(window.DIESEL_CONFIG || {}), tileUrl: value };
  return value;
}

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

// ------------------------------------------------------------------ projections (to "world" units, y down)

const equirectangular = (lat0) => {
  const k = Math.cos((lat0 * Math.PI) / 180);
  return { name: "equirectangular", forward: (lon, lat) => [lon * k, -lat] };
};

const mercator = {
  name: "mercator",
  // Zoom-0 world pixels (0..256), as tile servers count them.
  forward: (lon, lat) => {
    const clamped = Math.max(-85.05, Math.min(85.05, lat));
    const phi = (clamped * Math.PI) / 180;
    return [((lon + 180) / 360) * TILE, ((1 - Math.log(Math.tan(phi) + 1 / Math.cos(phi)) / Math.PI) / 2) * TILE];
  },
};

function allPoints(layers) {
  const points = [];
  for (const route of layers.routes || []) for (const c of route.coords) points.push(c);
  for (const group of [layers.depots, layers.stops, layers.tankers]) {
    for (const p of group || []) points.push([p.lon, p.lat]);
  }
  return points.filter(([lon, lat]) => Number.isFinite(lon) && Number.isFinite(lat));
}

/** A projection fitted to the points in a width x height box: {xy(lon, lat) -> [x, y], scale, origin}. */
function fit(points, width, height, projection) {
  let [minLon, minLat, maxLon, maxLat] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [lon, lat] of points) {
    minLon = Math.min(minLon, lon);
    maxLon = Math.max(maxLon, lon);
    minLat = Math.min(minLat, lat);
    maxLat = Math.max(maxLat, lat);
  }
  const growLon = Math.max(0, MIN_SPAN_DEG - (maxLon - minLon)) / 2;
  const growLat = Math.max(0, MIN_SPAN_DEG - (maxLat - minLat)) / 2;
  [minLon, maxLon, minLat, maxLat] = [minLon - growLon, maxLon + growLon, minLat - growLat, maxLat + growLat];
  const proj = projection === "mercator" ? mercator : equirectangular((minLat + maxLat) / 2);
  const [x0, y0] = proj.forward(minLon, maxLat);
  const [x1, y1] = proj.forward(maxLon, minLat);
  const scale = Math.min((width - 2 * PAD) / (x1 - x0), (height - 2 * PAD) / (y1 - y0));
  const offsetX = (width - (x1 - x0) * scale) / 2 - x0 * scale;
  const offsetY = (height - (y1 - y0) * scale) / 2 - y0 * scale;
  return {
    scale,
    offsetX,
    offsetY,
    xy: (lon, lat) => {
      const [x, y] = proj.forward(lon, lat);
      return [x * scale + offsetX, y * scale + offsetY];
    },
  };
}

function tileLayer(template, view, width, height) {
  // Screen px = world0 * scale; tiles of zoom z are 256 px at scale 2^z.
  const zoom = Math.max(0, Math.min(MAX_ZOOM, Math.ceil(Math.log2(view.scale))));
  const size = (TILE * view.scale) / 2 ** zoom;
  const n = 2 ** zoom;
  const first = [Math.floor(-view.offsetX / size), Math.floor(-view.offsetY / size)];
  const last = [Math.floor((width - view.offsetX) / size), Math.floor((height - view.offsetY) / size)];
  const group = svg("g", { class: "map-tiles", "aria-hidden": "true" });
  for (let ty = Math.max(0, first[1]); ty <= Math.min(n - 1, last[1]); ty += 1) {
    for (let tx = first[0]; tx <= last[0]; tx += 1) {
      const wrapped = ((tx % n) + n) % n;
      const href = template.replace("{z}", zoom).replace("{x}", wrapped).replace("{y}", ty);
      group.append(
        svg("image", {
          href,
          x: (tx * size + view.offsetX).toFixed(1),
          y: (ty * size + view.offsetY).toFixed(1),
          width: (size + 0.5).toFixed(1),
          height: (size + 0.5).toFixed(1),
          preserveAspectRatio: "none",
        }),
      );
    }
  }
  return group;
}

function label(x, y, text, attrs = {}) {
  return svg("text", { x, y, class: "map-label", ...attrs, text });
}

function draw(root, layers, width, height, template) {
  const points = allPoints(layers);
  const frame = svg("svg", {
    class: "map-svg",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": layers.label || t("map.label"),
  });
  frame.append(svg("rect", { class: template ? "map-bg map-bg-tiles" : "map-bg", width, height }));
  if (!points.length) {
    frame.append(label(width / 2, height / 2, t("map.nothing"), { "text-anchor": "middle", class: "map-label map-empty" }));
    root.replaceChildren(frame);
    return;
  }
  const view = fit(points, width, height, template ? "mercator" : "equirectangular");
  if (template) frame.append(tileLayer(template, view, width, height));
  else frame.append(grid(view, width, height, points));

  const routes = svg("g", { class: "map-routes" });
  for (const route of layers.routes || []) {
    const d = route.coords.map(([lon, lat]) => view.xy(lon, lat).map((v) => v.toFixed(1)).join(",")).join(" ");
    routes.append(
      svg("polyline", { points: d, class: "map-route-casing" }),
      svg("polyline", {
        points: d,
        class: `map-route${route.muted ? " map-route-muted" : ""}`,
        stroke: route.colour,
        "data-route": route.id || "",
      }),
    );
  }
  frame.append(routes);

  const depots = svg("g", { class: "map-depots" });
  for (const depot of layers.depots || []) {
    const [x, y] = view.xy(depot.lon, depot.lat);
    depots.append(
      svg(
        "g",
        { class: "map-depot", transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})` },
        svg("title", { text: depot.name }),
        svg("rect", { x: -9, y: -9, width: 18, height: 18, rx: 3 }),
        svg("path", { d: "M-5 4 V-2 L0 -6 L5 -2 V4 Z", class: "map-depot-icon" }),
        layers.depotLabels === false ? null : label(13, 5, depot.name, { class: "map-label map-depot-label" }),
      ),
    );
  }
  frame.append(depots);

  const stops = svg("g", { class: "map-stops" });
  for (const stop of layers.stops || []) {
    const [x, y] = view.xy(stop.lon, stop.lat);
    const r = stop.highlight ? 14 : 11;
    stops.append(
      svg(
        "g",
        {
          class: `map-stop${stop.highlight ? " map-stop-mine" : ""}${stop.done ? " map-stop-done" : ""}`,
          transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`,
          "data-stop": stop.id || "",
          "data-number": stop.number ?? "",
        },
        stop.title ? svg("title", { text: stop.title }) : null,
        stop.highlight ? svg("circle", { r: r + 5, class: "map-stop-halo" }) : null,
        svg("circle", { r, fill: stop.colour || "#16201b" }),
        svg("text", { class: "map-stop-number", y: 4.5, "text-anchor": "middle", text: stop.number ?? "" }),
      ),
    );
  }
  frame.append(stops);

  const tankers = svg("g", { class: "map-tankers" });
  for (const tanker of layers.tankers || []) {
    const [x, y] = view.xy(tanker.lon, tanker.lat);
    tankers.append(
      svg(
        "g",
        { class: "map-tanker", transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`, "data-plate": tanker.plate || "" },
        svg("title", { text: tanker.title || tanker.plate || "" }),
        svg("circle", { r: 16, class: "map-tanker-pulse" }),
        svg("rect", { x: -13, y: -9, width: 26, height: 18, rx: 4, fill: tanker.colour || "#16201b" }),
        svg("path", { d: "M-8 3 H6 M-8 -2 H2", class: "map-tanker-icon" }),
        tanker.plate ? label(17, -10, tanker.plate, { class: "map-label map-tanker-label" }) : null,
      ),
    );
  }
  frame.append(tankers);
  root.replaceChildren(frame);
}

/** Faint lines every "nice" step of degrees: a sense of scale on the plain background. */
function grid(view, width, height, points) {
  const group = svg("g", { class: "map-grid", "aria-hidden": "true" });
  const lons = points.map((p) => p[0]);
  const span = Math.max(...lons) - Math.min(...lons) || MIN_SPAN_DEG;
  const step = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10].find((s) => span / s <= 6) || 10;
  const [minLon, maxLon] = [Math.min(...lons) - span, Math.max(...lons) + span];
  const lats = points.map((p) => p[1]);
  const latSpan = Math.max(...lats) - Math.min(...lats) || MIN_SPAN_DEG;
  const [minLat, maxLat] = [Math.min(...lats) - latSpan - step, Math.max(...lats) + latSpan + step];
  for (let lon = Math.ceil(minLon / step) * step; lon <= maxLon; lon += step) {
    const [x] = view.xy(lon, minLat);
    if (x > 0 && x < width) group.append(svg("line", { x1: x.toFixed(1), x2: x.toFixed(1), y1: 0, y2: height }));
  }
  for (let lat = Math.ceil(minLat / step) * step; lat <= maxLat; lat += step) {
    const [, y] = view.xy(minLon, lat);
    if (y > 0 && y < height) group.append(svg("line", { x1: 0, x2: width, y1: y.toFixed(1), y2: y.toFixed(1) }));
  }
  return group;
}

/**
 * A map element that redraws itself to its width. `aspect` is width / height; `minHeight` in px.
 * Returns {element, update(layers)}; layers: {label, routes: [{coords: [[lon, lat]], colour, id}],
 * depots: [{lon, lat, name}], stops: [{lon, lat, number, colour, title, highlight, done, id}],
 * tankers: [{lon, lat, plate, colour, title}], legend: [{colour, text}]}.
 */
export function createMap({ aspect = 16 / 10, minHeight = 240, maxHeight = 620, className = "" } = {}) {
  const template = tileUrl();
  const canvas = h("div", { class: "map-canvas" });
  const legend = h("ul", { class: "map-legend" });
  const attribution = h(
    "p",
    { class: "map-attribution", dataset: { tiles: template ? "1" : "0" } },
    t("map.attribution"),
  );
  const element = h("figure", { class: `map ${className}`.trim() }, canvas, h("figcaption", {}, legend, attribution));
  let layers = { routes: [], depots: [], stops: [], tankers: [] };
  let lastWidth = 0;

  function render() {
    const width = Math.round(canvas.clientWidth || element.clientWidth || 320);
    const height = Math.round(Math.max(minHeight, Math.min(maxHeight, width / aspect)));
    lastWidth = width;
    draw(canvas, layers, width, height, template);
    legend.replaceChildren(
      ...(layers.legend || []).map((item) => {
        const swatch = h("span", { class: "map-swatch", "aria-hidden": "true" });
        swatch.style.background = item.colour; // CSSOM, not a style attribute: allowed by the page's policy
        return h("li", {}, swatch, item.text);
      }),
    );
    legend.hidden = !(layers.legend || []).length;
  }

  const observer = new ResizeObserver(() => {
    const width = Math.round(canvas.clientWidth);
    if (width && Math.abs(width - lastWidth) > 2) render();
  });
  observer.observe(canvas);

  return {
    element,
    update(next) {
      layers = { ...layers, ...next };
      render();
    },
    destroy() {
      observer.disconnect();
    },
  };
}

// ------------------------------------------------------------------ GeoJSON adapters

/** Layers from GET /plans/{id}/geojson: one colour per tanker (colour_index), trips as lines, stops numbered. */
export function planLayers(geojson, { doneStops = new Set() } = {}) {
  const routes = [];
  const depots = [];
  const stops = [];
  for (const feature of geojson?.features || []) {
    const p = feature.properties || {};
    const g = feature.geometry || {};
    if (p.kind === "trip" && g.type === "LineString") {
      routes.push({ coords: g.coordinates, colour: routeColour(p.colour_index || 0), id: p.trip_id });
    } else if (p.kind === "depot" && g.type === "Point") {
      depots.push({ lon: g.coordinates[0], lat: g.coordinates[1], name: p.name || "" });
    } else if (p.kind === "stop" && g.type === "Point") {
      stops.push({
        lon: g.coordinates[0],
        lat: g.coordinates[1],
        number: p.number,
        colour: routeColour(p.colour_index || 0),
        title: `${p.plate || ""} #${p.number} ${p.site || ""}`.trim(),
        id: p.stop_id,
        done: doneStops.has(p.stop_id),
      });
    }
  }
  return { routes, depots, stops };
}

/** Layers from GET /orders/{id}/tracking: the trip's route, its depot, the stops (this order's marked), the tanker. */
export function trackingLayers(tracking) {
  const colour = ROUTE_COLOURS[0];
  const routes = [];
  const depots = [];
  const stops = [];
  for (const feature of tracking?.route?.features || []) {
    const p = feature.properties || {};
    const g = feature.geometry || {};
    if (p.kind === "trip" && g.type === "LineString") routes.push({ coords: g.coordinates, colour, id: "trip" });
    else if (p.kind === "depot" && g.type === "Point") depots.push({ lon: g.coordinates[0], lat: g.coordinates[1], name: p.name || "" });
    else if (p.kind === "stop" && g.type === "Point") {
      stops.push({
        lon: g.coordinates[0],
        lat: g.coordinates[1],
        number: p.number,
        colour: p.this_order ? "#0b5d3b" : "#5b6660",
        highlight: Boolean(p.this_order),
        title: p.this_order ? p.name || "" : "",
        id: p.this_order ? "mine" : "",
      });
    }
  }
  const position = tracking?.tanker?.position;
  const tankers = position
    ? [{ lon: position.lon, lat: position.lat, plate: tracking.tanker.plate || "", colour: "#16201b" }]
    : [];
  return { routes, depots, stops, tankers };
}
