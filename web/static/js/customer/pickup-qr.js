// The pickup QR code full-screen: black on white, as large as the screen allows, the booking under it.
import { api } from "../core/api.js";
import { h } from "../core/dom.js";
import { t } from "../core/i18n.js";
import { setTitle } from "../core/shell.js";
import { errorState } from "../core/ui.js";
import { bookingDetails } from "./pickup-page.js";

const SVG_NS = "http://www.w3.org/2000/svg";

/** Parse the server's SVG and keep only what draws the code (no scripts, no event handlers, no links). */
export function qrElement(svgText, label) {
  const doc = new DOMParser().parseFromString(svgText, "image/svg+xml");
  const svg = doc.documentElement;
  if (svg.namespaceURI !== SVG_NS || svg.localName !== "svg") throw new Error("not an SVG");
  const clean = document.createElementNS(SVG_NS, "svg");
  const width = Number.parseFloat(svg.getAttribute("width")) || 100;
  const height = Number.parseFloat(svg.getAttribute("height")) || 100;
  clean.setAttribute("viewBox", svg.getAttribute("viewBox") || `0 0 ${width} ${height}`);
  clean.setAttribute("role", "img");
  clean.setAttribute("aria-label", label);
  clean.setAttribute("shape-rendering", "crispEdges");
  const background = document.createElementNS(SVG_NS, "rect");
  for (const [k, v] of Object.entries({ width: "100%", height: "100%", fill: "#fff" })) background.setAttribute(k, v);
  clean.append(background);
  for (const path of svg.querySelectorAll("path")) {
    const copy = document.createElementNS(SVG_NS, "path");
    for (const attr of ["d", "transform", "stroke", "fill"]) {
      if (path.hasAttribute(attr)) copy.setAttribute(attr, path.getAttribute(attr));
    }
    copy.setAttribute("stroke", "#000");
    clean.append(copy);
  }
  return clean;
}

async function keepScreenOn() {
  try {
    return await navigator.wakeLock?.request("screen");
  } catch {
    return null; // not allowed (battery saver, no user gesture): the code still shows
  }
}

export async function pickupQrView(main, [id], ctx) {
  setTitle("pickup.qr_title");
  document.body.classList.add("qr-mode");
  const leave = () => document.body.classList.remove("qr-mode");
  let booking;
  let svgText;
  try {
    [booking, svgText] = await Promise.all([api(`/pickups/${id}`), api(`/pickups/${id}/qr.svg`, { as: "text" })]);
  } catch (error) {
    main.append(
      errorState(error),
      h("a", { class: "btn", href: `/app/customer/pickups/${id}` }, t("common.back")),
    );
    return leave;
  }
  if (!ctx.isCurrent()) return leave;
  const figure = h(
    "figure",
    { class: "qr-figure" },
    h("div", { class: "qr-code", id: "pickup-qr" }, qrElement(svgText, t("pickup.qr_alt", { reference: booking.reference }))),
    h("figcaption", {}, h("strong", { class: "qr-reference" }, booking.reference), h("span", {}, booking.vehicle_plate)),
  );
  const fullscreen = h("button", { type: "button", class: "btn" }, t("pickup.fullscreen"));
  fullscreen.hidden = !document.fullscreenEnabled;
  fullscreen.addEventListener("click", () => figure.requestFullscreen?.().catch(() => {}));
  main.append(
    h("h1", { class: "visually-hidden" }, t("pickup.qr_title")),
    figure,
    h("p", { class: "qr-hint" }, t("pickup.qr_hint")),
    h("section", { class: "card qr-details" }, await bookingDetails(booking)),
    h(
      "div",
      { class: "actions" },
      h("a", { class: "btn", href: `/app/customer/pickups/${id}` }, t("common.back")),
      fullscreen,
    ),
  );
  const lock = await keepScreenOn();
  return () => {
    leave();
    lock?.release().catch(() => {});
  };
}
