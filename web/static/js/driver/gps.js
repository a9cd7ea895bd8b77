// Positions from the browser's geolocation while a trip is under way (loaded or en route), sent in batches
// (POST /driver/positions) every ~15 s; the first fix goes at once. Kept while offline, up to a limit.
import { ApiError, api } from "../core/api.js";

const SEND_EVERY_MS = 15_000;
const MIN_GAP_MS = 5000;
const MAX_BUFFER = 500;

let watchId = null;
let timer = null;
let buffer = [];
let lastKept = 0;
let sentFirst = false;
let state = "off"; // off | waiting | sharing | denied | unavailable
const listeners = new Set();

function setState(next) {
  if (state === next) return;
  state = next;
  for (const listener of listeners) listener(state);
}

export function gpsState() {
  return state;
}

/** Call `listener(state)` on every change; returns an unsubscribe function. */
export function onGpsState(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function kmh(speed) {
  return typeof speed === "number" && Number.isFinite(speed) ? Math.min(250, Math.max(0, speed * 3.6)) : undefined;
}

function onFix(position) {
  const now = position.timestamp || Date.now();
  if (now - lastKept < MIN_GAP_MS && buffer.length) return;
  lastKept = now;
  const c = position.coords;
  const heading = typeof c.heading === "number" && Number.isFinite(c.heading) ? c.heading % 360 : undefined;
  buffer.push({ lat: c.latitude, lon: c.longitude, recorded_at: new Date(now).toISOString(), speed: kmh(c.speed), heading });
  if (buffer.length > MAX_BUFFER) buffer = buffer.slice(-MAX_BUFFER);
  setState("sharing");
  if (!sentFirst) {
    sentFirst = true;
    flush();
  }
}

function onError(error) {
  setState(error.code === 1 ? "denied" : "unavailable");
}

/** Send what is buffered; kept for the next try when the network or server is down. */
export async function flush() {
  if (!buffer.length) return;
  const batch = buffer;
  buffer = [];
  try {
    await api("/driver/positions", { method: "POST", body: batch });
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      stop(); // no trip under way any more
      return;
    }
    if (error instanceof ApiError && error.status >= 400 && error.status < 500) return; // refused: drop it
    buffer = [...batch, ...buffer].slice(-MAX_BUFFER);
  }
}

function start() {
  if (watchId !== null) return;
  if (!navigator.geolocation) {
    setState("unavailable");
    return;
  }
  setState("waiting");
  watchId = navigator.geolocation.watchPosition(onFix, onError, { enableHighAccuracy: true, maximumAge: 10_000, timeout: 60_000 });
  timer = setInterval(flush, SEND_EVERY_MS);
}

export function stop() {
  if (watchId !== null) navigator.geolocation.clearWatch(watchId);
  watchId = null;
  clearInterval(timer);
  timer = null;
  sentFirst = false;
  if (state !== "denied") setState("off");
}

/** Share positions exactly while one of the route's trips is under way. */
export function followRoute(plan) {
  const underWay = (plan?.routes || []).some((r) => r.trips.some((t) => t.status === "loaded" || t.status === "en_route"));
  if (underWay) start();
  else {
    flush();
    stop();
  }
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") flush();
});
window.addEventListener("online", () => flush());
