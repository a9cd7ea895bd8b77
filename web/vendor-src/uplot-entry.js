// Entry of the vendored chart library: uPlot (canvas; no eval, styles only through the CSSOM, which the pages'
// Content-Security-Policy allows), bundled from npm and served by this app (never a CDN).
import uPlot from "uplot";

export default uPlot;
