// A map to place one pin (a site's position): drag to move the map, tap or click to put the pin, + and − to zoom,
// the arrow keys to move and Enter to put the pin in the middle. Web Mercator, as tile servers draw it: with a tile
// server (MAP_TILE_URL) the streets are underneath; without one (offline) a plain background with a grid and the
// depots as landmarks, and the pin can be typed as latitude and longitude beside it.
import { h, uid } from "../core/dom.js";
import { t } from "../core/i18n.js";
import { tileUrl } from "./map.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const TILE = 256;
const MIN_ZOOM = 3;
const MAX_ZOOM = 18;
const HEIGHT = 300;
const CLICK_SLOP_PX = 6;
const SHANGHAI = { lat: 31.2304, lon: 121.4737 };

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (name === "text") el.textContent = value;
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) if (child) el.append(child);
  return el;
}

/** Zoom-0 world pixels (0..256) of a position, and back. */
export function toWorld(lon, lat) {
  const phi = (Math.max(-85.05, Math.min(85.05, lat)) * Math.PI) / 180;
  return [((lon + 180) / 360) * TILE, ((1 - Math.log(Math.tan(phi) + 1 / Math.cos(phi)) / Math.PI) / 2) * TILE];
}

export function fromWorld(x, y) {
  const n = Math.PI - (2 * Math.PI * y) / TILE;
  return { lon: (x / TILE) * 360 - 180, lat: (180 / Math.PI) * Math.atan(Math.sinh(n)) };
}

const round6 = (value) => Math.round(value * 1e6) / 1e6;

/**
 * createPinPicker({lat, lon, depots: [{lat, lon, name}], onChange({lat, lon})}) ->
 * {element, set(lat, lon), value(), destroy()}. The pin starts at lat/lon when given (else none, the map around
 * the depots or Shanghai).
 */
export function createPinPicker({ lat = null, lon = null, depots = [], onChange = () => {} } = {}) {
  const template = tileUrl();
  let pin = Number.isFinite(lat) && Number.isFinite(lon) ? { lat, lon } : null;
  const start = pin || centre(depots);
  let [cx, cy] = toWorld(start.lon, start.lat); // the map's middle, in zoom-0 world pixels
  let zoom = pin ? 15 : depots.length ? 10 : 11;
  let width = 320;

  const helpId = uid("pin-help");
  const canvas = h("div", {
    class: "pin-canvas",
    tabindex: "0",
    role: "application",
    "aria-roledescription": t("pin.map_role"),
    "aria-label": t("pin.map_label"),
    "aria-describedby": helpId,
  });
  const status = h("p", { class: "pin-status small", "aria-live": "polite" });
  const zoomIn = h("button", { type: "button", class: "btn btn-small", "aria-label": t("pin.zoom_in") }, "+");
  const zoomOut = h("button", { type: "button", class: "btn btn-small", "aria-label": t("pin.zoom_out") }, "−");
  const here = h("button", { type: "button", class: "btn btn-small" }, t("pin.my_location"));
  here.hidden = !navigator.geolocation;
  const element = h(
    "figure",
    { class: "map pin-picker" },
    h("div", { class: "pin-tools" }, zoomIn, zoomOut, here),
    canvas,
    h(
      "figcaption",
      {},
      h("p", { class: "hint", id: helpId }, t("pin.help")),
      status,
      h("p", { class: "map-attribution", dataset: { tiles: template ? "1" : "0" } }, t("map.attribution")),
    ),
  );

  function centre(points) {
    if (!points.length) return SHANGHAI;
    const sum = points.reduce((acc, p) => ({ lat: acc.lat + p.lat, lon: acc.lon + p.lon }), { lat: 0, lon: 0 });
    return { lat: sum.lat / points.length, lon: sum.lon / points.length };
  }

  const scale = () => 2 ** zoom;
  const toScreen = (lon2, lat2) => {
    const [x, y] = toWorld(lon2, lat2);
    return [(x - cx) * scale() + width / 2, (y - cy) * scale() + HEIGHT / 2];
  };
  const toLonLat = (sx, sy) => fromWorld(cx + (sx - width / 2) / scale(), cy + (sy - HEIGHT / 2) / scale());

  function tiles() {
    const group = svg("g", { class: "map-tiles", "aria-hidden": "true" });
    const n = 2 ** zoom;
    const left = (cx * scale() - width / 2) / TILE;
    const top = (cy * scale() - HEIGHT / 2) / TILE;
    for (let ty = Math.max(0, Math.floor(top)); ty <= Math.min(n - 1, Math.floor(top + HEIGHT / TILE)); ty += 1) {
      for (let tx = Math.floor(left); tx <= Math.floor(left + width / TILE); tx += 1) {
        const wrapped = ((tx % n) + n) % n;
        const href = template.replace("{z}", zoom).replace("{x}", wrapped).replace("{y}", ty);
        group.append(
          svg("image", {
            href,
            x: ((tx - left) * TILE).toFixed(1),
            y: ((ty - top) * TILE).toFixed(1),
            width: TILE + 0.5,
            height: TILE + 0.5,
          }),
        );
      }
    }
    return group;
  }

  function grid() {
    // Lines every "nice" step of degrees: a sense of place and scale on the plain background.
    const group = svg("g", { class: "map-grid", "aria-hidden": "true" });
    const a = toLonLat(0, HEIGHT);
    const b = toLonLat(width, 0);
    const span = b.lon - a.lon;
    const step = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10].find((s) => span / s <= 8) || 10;
    for (let lon2 = Math.ceil(a.lon / step) * step; lon2 <= b.lon; lon2 += step) {
      const [x] = toScreen(lon2, a.lat);
      group.append(svg("line", { x1: x.toFixed(1), x2: x.toFixed(1), y1: 0, y2: HEIGHT }));
    }
    for (let lat2 = Math.ceil(a.lat / step) * step; lat2 <= b.lat; lat2 += step) {
      const [, y] = toScreen(a.lon, lat2);
      group.append(svg("line", { x1: 0, x2: width, y1: y.toFixed(1), y2: y.toFixed(1) }));
    }
    return group;
  }

  function render() {
    width = Math.round(canvas.clientWidth || element.clientWidth || 320);
    const frame = svg("svg", { class: "map-svg", width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, "aria-hidden": "true" });
    frame.append(svg("rect", { class: template ? "map-bg map-bg-tiles" : "map-bg", width, height: HEIGHT }));
    frame.append(template ? tiles() : grid());
    for (const depot of depots) {
      const [x, y] = toScreen(depot.lon, depot.lat);
      frame.append(
        svg(
          "g",
          { class: "map-depot", transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})` },
          svg("rect", { x: -9, y: -9, width: 18, height: 18, rx: 3 }),
          svg("path", { d: "M-5 4 V-2 L0 -6 L5 -2 V4 Z", class: "map-depot-icon" }),
          svg("text", { x: 13, y: 5, class: "map-label map-depot-label", text: depot.name || "" }),
        ),
      );
    }
    frame.append(svg("path", { class: "pin-crosshair", d: `M${width / 2 - 8} ${HEIGHT / 2} h16 M${width / 2} ${HEIGHT / 2 - 8} v16` }));
    if (pin) {
      const [x, y] = toScreen(pin.lon, pin.lat);
      frame.append(
        svg(
          "g",
          { class: "pin-marker", transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})` },
          svg("path", { d: "M0 0 C-4 -10 -12 -14 -12 -24 A12 12 0 1 1 12 -24 C12 -14 4 -10 0 0 Z" }),
          svg("circle", { cy: -24, r: 4.5, class: "pin-dot" }),
        ),
      );
    }
    canvas.replaceChildren(frame);
    canvas.dataset.zoom = String(zoom);
    status.textContent = pin
      ? t("pin.at", { lat: pin.lat.toFixed(5), lon: pin.lon.toFixed(5) })
      : t("pin.none");
  }

  function place(next, { notify = true } = {}) {
    pin = { lat: round6(next.lat), lon: round6(next.lon) };
    render();
    if (notify) onChange({ ...pin });
  }

  function setZoom(next) {
    zoom = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, next));
    render();
  }

  // Drag to pan; a press that hardly moved is a tap: the pin goes there.
  let drag = null;
  canvas.addEventListener("pointerdown", (event) => {
    drag = { x: event.clientX, y: event.clientY, cx, cy, moved: false };
    canvas.setPointerCapture?.(event.pointerId);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > CLICK_SLOP_PX) drag.moved = true;
    if (!drag.moved) return;
    cx = drag.cx - dx / scale();
    cy = drag.cy - dy / scale();
    render();
  });
  canvas.addEventListener("pointerup", (event) => {
    if (!drag) return;
    const wasTap = !drag.moved;
    drag = null;
    if (!wasTap) return;
    const box = canvas.getBoundingClientRect();
    place(toLonLat(event.clientX - box.left, event.clientY - box.top));
  });
  canvas.addEventListener("pointercancel", () => {
    drag = null;
  });
  canvas.addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      setZoom(zoom + (event.deltaY < 0 ? 1 : -1));
    },
    { passive: false },
  );
  canvas.addEventListener("keydown", (event) => {
    const step = 60 / scale();
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[event.key]) {
      cx += moves[event.key][0];
      cy += moves[event.key][1];
      render();
    } else if (event.key === "Enter" || event.key === " ") {
      place(fromWorld(cx, cy));
    } else if (event.key === "+" || event.key === "=") {
      setZoom(zoom + 1);
    } else if (event.key === "-") {
      setZoom(zoom - 1);
    } else {
      return;
    }
    event.preventDefault();
  });
  zoomIn.addEventListener("click", () => setZoom(zoom + 1));
  zoomOut.addEventListener("click", () => setZoom(zoom - 1));
  here.addEventListener("click", () => {
    navigator.geolocation.getCurrentPosition(
      (position) => {
        [cx, cy] = toWorld(position.coords.longitude, position.coords.latitude);
        zoom = Math.max(zoom, 15);
        place({ lat: position.coords.latitude, lon: position.coords.longitude });
      },
      () => {
        status.textContent = t("pin.location_unavailable");
      },
      { enableHighAccuracy: true, timeout: 10_000 },
    );
  });

  const observer = new ResizeObserver(() => {
    if (Math.abs((canvas.clientWidth || 0) - width) > 2) render();
  });
  observer.observe(canvas);
  render();

  return {
    element,
    /** Put the pin (and the map's middle) at a position without calling onChange (it came from the form). */
    set(lat2, lon2, { centreOn = true } = {}) {
      if (!Number.isFinite(lat2) || !Number.isFinite(lon2)) return;
      if (centreOn) {
        [cx, cy] = toWorld(lon2, lat2);
        zoom = Math.max(zoom, 15);
      }
      place({ lat: lat2, lon: lon2 }, { notify: false });
    },
    value: () => (pin ? { ...pin } : null),
    destroy: () => observer.disconnect(),
  };
}
