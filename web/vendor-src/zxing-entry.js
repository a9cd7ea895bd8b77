// Entry of the vendored QR decoder: ZXing's reader only, with its WebAssembly served by this app (never a CDN).
import { prepareZXingModule, readBarcodes } from "zxing-wasm/reader";

/** Point the decoder at our own copy of zxing_reader.wasm before the first read. */
export function useLocalWasm(url) {
  prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? url : prefix + path) },
  });
}

export { readBarcodes };
