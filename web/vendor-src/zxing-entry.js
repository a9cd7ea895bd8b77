// Entry of the vendored QR decoder: ZXing's reader only, with its WebAssembly served by this app (never a CDN).
import { prepareZXingModule, readBarcodes } from "zxing-wasm/reader";

/** Point the decoder at our own copy of zxing_reader.wasm and load it now (resolves when it is ready). */
export function useLocalWasm(url) {
  return prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? url : prefix + path) },
    fireImmediately: true,
  });
}

export { readBarcodes };
