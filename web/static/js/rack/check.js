// Is this code authorised here, now? Online: POST /rack/verify. Network down: the signature is checked in the
// browser with the cached keys, and codes this device already spent are refused.
import { ApiError, api } from "../core/api.js";
import { tokenHash, verifyCode } from "../codes/verify.js";
import { newId } from "../core/forms.js";
import { cachedKeys, enqueue, isSpent, markSpent } from "./store.js";

const RACK_KINDS = new Set(["pickup", "trip"]);

function isNetworkDown(error) {
  return error instanceof ApiError && (error.status === 0 || error.status === 503 || error.status === 502);
}

async function hashOrNull(token) {
  try {
    return await tokenHash(token);
  } catch {
    return null;
  }
}

export async function checkOffline(token, depotId, plate) {
  const result = await verifyCode(token, {
    keys: cachedKeys().keys,
    depotId,
    plate: plate || null,
    now: Date.now() / 1000,
  });
  const reasons = [...result.reasons];
  const payload = result.payload;
  if (payload && !RACK_KINDS.has(payload.kind)) reasons.push("malformed");
  const hash = await hashOrNull(token);
  if (hash && isSpent(hash)) reasons.push("already_used");
  return {
    offline: true,
    authorised: reasons.length === 0,
    reasons,
    reason_texts: [],
    kind: payload?.kind || null,
    what_to_load:
      payload && reasons.length === 0
        ? { products: payload.products, max_litres: payload.maxLitres, vehicle_plate: payload.plate }
        : null,
    subject: payload ? { id: payload.subjectId } : null,
  };
}

/** The verdict for a code: {authorised, reasons, reason_texts, kind, what_to_load, subject, offline}. */
export async function checkCode(token, depotId, plate) {
  if (navigator.onLine === false) return checkOffline(token, depotId, plate);
  const body = { token, depot_id: depotId };
  if (plate) body.vehicle_plate = plate;
  try {
    return { ...(await api("/rack/verify", { method: "POST", body })), offline: false };
  } catch (error) {
    if (isNetworkDown(error)) return checkOffline(token, depotId, plate);
    throw error;
  }
}

/**
 * Record the loading: POST /rack/redeem (the server checks the code again, exactly once); with the network
 * down, queue it for POST /rack/offline-redemptions.
 * Returns {ticket} (online) or {queued: item} (offline).
 */
export async function redeem({ token, depotId, litres, temperature, plate }) {
  const body = {
    token,
    depot_id: depotId,
    loaded_litres_observed: litres,
    temperature_c: temperature,
    vehicle_plate: plate,
  };
  const hash = await hashOrNull(token);
  const queue = () => {
    const item = { offline_id: newId(), ...body, redeemed_at: new Date().toISOString() };
    enqueue(item);
    if (hash) markSpent(hash);
    return { queued: item };
  };
  if (navigator.onLine === false) return queue();
  try {
    const ticket = await api("/rack/redeem", { method: "POST", body });
    if (hash) markSpent(hash);
    return { ticket };
  } catch (error) {
    if (isNetworkDown(error)) return queue();
    throw error;
  }
}
