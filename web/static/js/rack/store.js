// What a rack keeps on the device: its depot (one of the operator's own), the public keys, and loadings waiting
// for the network.
import { ApiError, api } from "../core/api.js";

const DEPOT_KEY = "dd.rack.depot";
const MY_DEPOTS_KEY = "dd.rack.my_depots";
const KEYS_KEY = "dd.rack.keys";
const QUEUE_KEY = "dd.rack.queue";
const SPENT_KEY = "dd.rack.spent";
const CONFLICTS_KEY = "dd.rack.conflicts";
const MAX_SPENT = 2000;

function read(key, fallback) {
  try {
    const value = JSON.parse(localStorage.getItem(key));
    return value ?? fallback;
  } catch {
    return fallback;
  }
}

function write(key, value) {
  localStorage.setItem(key, JSON.stringify(value));
}

export const depot = {
  get: () => read(DEPOT_KEY, null),
  set: (d) => write(DEPOT_KEY, { id: d.id, name: d.name, timezone: d.timezone }),
  clear: () => localStorage.removeItem(DEPOT_KEY),
};

// ------------------------------------------------------------------ the operator's depots

/** The depots whose racks the logged-in user may act at (GET /rack/depots); the last answer is kept for offline use. */
export async function myDepots() {
  try {
    const depots = await api("/rack/depots");
    write(MY_DEPOTS_KEY, depots.map((d) => ({ id: d.id, name: d.name, timezone: d.timezone })));
    return depots;
  } catch (error) {
    if (error instanceof ApiError && error.status === 0) {
      // Offline: the last answer, or at least the depot this rack was set to.
      return read(MY_DEPOTS_KEY, null) ?? (depot.get() ? [depot.get()] : []);
    }
    throw error;
  }
}

/** The depot this rack stands at, if it is one of `depots`; the only one when there is just one. */
export function depotAmong(depots) {
  const here = depot.get();
  const chosen = depots.find((d) => d.id === here?.id) || (depots.length === 1 ? depots[0] : null);
  if (chosen) depot.set(chosen);
  else depot.clear();
  return chosen ? depot.get() : null;
}

// ------------------------------------------------------------------ public keys

export function cachedKeys() {
  return read(KEYS_KEY, { keys: [], fetched_at: null });
}

/** Refresh the cached keys from GET /rack/keys; keeps the old ones when the network is down. */
export async function refreshKeys() {
  try {
    const keys = await api("/rack/keys");
    write(KEYS_KEY, { keys, fetched_at: new Date().toISOString() });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
  }
  return cachedKeys();
}

// ------------------------------------------------------------------ codes spent on this device

export function isSpent(hash) {
  return read(SPENT_KEY, []).includes(hash);
}

export function markSpent(hash) {
  const spent = read(SPENT_KEY, []).filter((h) => h !== hash);
  spent.push(hash);
  write(SPENT_KEY, spent.slice(-MAX_SPENT));
}

// ------------------------------------------------------------------ loadings made offline

export function queued() {
  return read(QUEUE_KEY, []);
}

export function enqueue(item) {
  write(QUEUE_KEY, [...queued(), item]);
}

export function conflicts() {
  return read(CONFLICTS_KEY, []);
}

/**
 * Upload the queued loadings (POST /rack/offline-redemptions). Accepted ones leave the queue; conflicts leave it
 * too but are kept for the operator to see. Returns {accepted, conflicts} counts, or null when still offline.
 */
export async function uploadQueue() {
  const items = queued();
  if (!items.length) return { accepted: 0, conflicts: 0 };
  if (navigator.onLine === false) return null;
  let results;
  try {
    results = await api("/rack/offline-redemptions", { method: "POST", body: items.slice(0, 500) });
  } catch (error) {
    if (error instanceof ApiError && (error.status === 0 || error.status >= 500)) return null;
    throw error;
  }
  const done = new Set(results.map((r) => r.offline_id));
  write(QUEUE_KEY, queued().filter((item) => !done.has(item.offline_id)));
  const newConflicts = results.filter((r) => r.status === "conflict");
  if (newConflicts.length) write(CONFLICTS_KEY, [...conflicts(), ...newConflicts].slice(-200));
  return { accepted: results.length - newConflicts.length, conflicts: newConflicts.length };
}
