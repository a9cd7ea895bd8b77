// Read QR codes from the device camera: the browser's BarcodeDetector where it reads QR codes, otherwise the
// ZXing decoder (WebAssembly) bundled into /static/vendor by the build and loaded only when needed.
const VENDOR = "/static/vendor";
const INTERVAL_MS = 120;
const MAX_WIDTH = 960;

let zxingPromise = null;

function loadZxing() {
  zxingPromise ||= import(`${VENDOR}/zxing-reader.js`)
    .then(async (zxing) => {
      await zxing.useLocalWasm(`${VENDOR}/zxing_reader.wasm`);
      return zxing;
    })
    .catch((error) => {
      zxingPromise = null;
      console.warn("QR decoder unavailable:", error);
      // The vendored decoder is missing or broken: `npm run build` did not run on this server.
      throw Object.assign(new Error("QR decoder missing"), { name: "DecoderMissing" });
    });
  return zxingPromise;
}

async function nativeDetector() {
  if (!("BarcodeDetector" in window)) return null;
  try {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    if (!formats.includes("qr_code")) return null;
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    return { name: "native", read: async (video) => (await detector.detect(video))[0]?.rawValue || null };
  } catch {
    return null;
  }
}

async function zxingDetector() {
  const zxing = await loadZxing();
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return {
    name: "zxing",
    read: async (video) => {
      const scale = Math.min(1, MAX_WIDTH / video.videoWidth);
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      const results = await zxing.readBarcodes(image, { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1 });
      return results.find((r) => r.isValid)?.text || null;
    },
  };
}

/** Which decoder this browser will use: "native" or "zxing" (for display and tests). */
export async function decoderName() {
  return (await nativeDetector()) ? "native" : "zxing";
}

/**
 * Start the camera in `video` and call `onCode(text)` for each code read (the same code is reported again only
 * after `repeatAfterMs`). Returns {stop(), pause(), resume(), decoder}. Throws when there is no camera or
 * permission is refused (the caller offers typing the code instead).
 */
export async function startScanner(video, { onCode, repeatAfterMs = 4000 } = {}) {
  if (!navigator.mediaDevices?.getUserMedia) throw Object.assign(new Error("no camera API"), { name: "NotSupportedError" });
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
  });
  video.srcObject = stream;
  video.setAttribute("playsinline", "");
  video.muted = true;
  let detector;
  try {
    await video.play();
    detector = (await nativeDetector()) || (await zxingDetector());
  } catch (error) {
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
    throw error;
  }
  let stopped = false;
  let paused = false;
  let timer = null;
  let last = { text: null, at: 0 };

  async function tick() {
    if (stopped) return;
    if (!paused && video.readyState >= 2 && video.videoWidth) {
      try {
        const text = await detector.read(video);
        const now = Date.now();
        if (text && !stopped && !paused && (text !== last.text || now - last.at > repeatAfterMs)) {
          last = { text, at: now };
          onCode(text);
        }
      } catch (error) {
        console.warn("QR decoding failed on a frame", error);
      }
    }
    if (!stopped) timer = setTimeout(tick, INTERVAL_MS);
  }
  tick();

  return {
    decoder: detector.name,
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
      last = { text: null, at: 0 };
    },
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      for (const track of stream.getTracks()) track.stop();
      video.srcObject = null;
    },
  };
}
