// A QR code the server drew (SVG), shown safely: only its paths are kept, black on white.
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

