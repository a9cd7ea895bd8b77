// `npm run build`: bundle the vendored browser code into web/static/vendor (run after `npm ci`): the QR decoder
// and the chart library.
// The app's own modules are plain ES modules and need no build; only npm dependencies are bundled here.
import { copyFileSync, mkdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "static", "vendor");
const require = createRequire(import.meta.url);
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(here, "vendor-src", "zxing-entry.js")],
  outfile: join(out, "zxing-reader.js"),
  bundle: true,
  format: "esm",
  minify: true,
  target: ["chrome100", "firefox100", "safari15"],
  legalComments: "eof",
  logLevel: "warning",
});
const wasm = require.resolve("zxing-wasm/reader/zxing_reader.wasm");
copyFileSync(wasm, join(out, "zxing_reader.wasm"));

await build({
  entryPoints: [join(here, "vendor-src", "uplot-entry.js")],
  outfile: join(out, "uplot.js"),
  bundle: true,
  format: "esm",
  minify: true,
  target: ["chrome100", "firefox100", "safari15"],
  legalComments: "eof",
  logLevel: "warning",
});
copyFileSync(require.resolve("uplot/dist/uPlot.min.css"), join(out, "uplot.css"));

for (const name of ["zxing-reader.js", "zxing_reader.wasm", "uplot.js", "uplot.css"]) {
  console.log(`web/static/vendor/${name}: ${(statSync(join(out, name)).size / 1024).toFixed(0)} KiB`);
}
