// Verify a signed code in the browser, with public keys cached from GET /rack/keys (no network needed).
// Mirrors tracking/codes.py: token = Base45(VERSION | KID(4) | CBOR payload | Ed25519 signature(64)),
// signature over "diesel-direct/code/v1\0" | VERSION | KID | CBOR.
import { decodeBase45 } from "./base45.js";
import { decodeCbor } from "./cbor.js";

const VERSION = 1;
const KID_LENGTH = 4;
const SIGNATURE_LENGTH = 64;
const HEADER_LENGTH = 1 + KID_LENGTH;
const MAX_TOKEN_CHARS = 1000;
const CONTEXT = new TextEncoder().encode("diesel-direct/code/v1\0");
export const KINDS = { 1: "pickup", 2: "trip", 3: "receipt" };

const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

function fromBase64Url(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function uuidFromBytes(bytes) {
  const x = hex(bytes);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

function uuidBytes(uuid) {
  const x = uuid.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(x)) throw new Error("not a UUID");
  return Uint8Array.from(x.match(/../g), (b) => Number.parseInt(b, 16));
}

/** 8-byte tag of a depot id: SHA-256("depot:" | uuid bytes)[:8], as in tracking.codes.depot_tag. */
export async function depotTag(depotId) {
  const data = new Uint8Array([...new TextEncoder().encode("depot:"), ...uuidBytes(depotId)]);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data)).slice(0, 8);
}

/** '沪a 123-45' and '沪A12345' are one truck: NFKC, upper case, no separators (as tracking.codes.normalise_plate). */
export function normalisePlate(plate) {
  return [...plate.normalize("NFKC").toUpperCase()].filter((ch) => !/\s/u.test(ch) && !"-·•.".includes(ch)).join("");
}

/** The token split and parsed, WITHOUT checking the signature. Throws Error when it is not a well-formed code. */
export function decodeToken(token) {
  const text = token.replace(/^[\r\n\t]+|[\r\n\t]+$/g, "");
  if (!text || text.length > MAX_TOKEN_CHARS) throw new Error("empty or too long");
  const raw = decodeBase45(text);
  if (raw.length < HEADER_LENGTH + 1 + SIGNATURE_LENGTH || raw[0] !== VERSION) throw new Error("bad header");
  const body = raw.slice(0, raw.length - SIGNATURE_LENGTH);
  const fields = decodeCbor(body.slice(HEADER_LENGTH));
  if (!Array.isArray(fields) || fields.length !== 9) throw new Error("payload is not a 9-field array");
  const [kind, subject, tag, plate, products, maxLitres, notBefore, expires, nonce] = fields;
  const isInt = Number.isInteger;
  const ok =
    KINDS[kind] &&
    subject instanceof Uint8Array &&
    subject.length === 16 &&
    tag instanceof Uint8Array &&
    tag.length === 8 &&
    (plate === null || typeof plate === "string") &&
    Array.isArray(products) &&
    products.length > 0 &&
    products.every((p) => typeof p === "string") &&
    isInt(maxLitres) &&
    isInt(notBefore) &&
    isInt(expires) &&
    nonce instanceof Uint8Array;
  if (!ok) throw new Error("payload field types");
  return {
    kid: hex(raw.slice(1, HEADER_LENGTH)),
    signed: body,
    signature: raw.slice(raw.length - SIGNATURE_LENGTH),
    payload: { kind: KINDS[kind], subjectId: uuidFromBytes(subject), tag, plate, products, maxLitres, notBefore, expires },
  };
}

/** Can this browser check Ed25519 signatures (WebCrypto)? */
export async function ed25519Supported() {
  try {
    await crypto.subtle.importKey("raw", new Uint8Array(32), { name: "Ed25519" }, false, ["verify"]);
    return true;
  } catch {
    return false;
  }
}

async function signatureValid(publicKeyB64, signed, signature) {
  const key = await crypto.subtle.importKey("raw", fromBase64Url(publicKeyB64), { name: "Ed25519" }, false, ["verify"]);
  const message = new Uint8Array(CONTEXT.length + signed.length);
  message.set(CONTEXT);
  message.set(signed, CONTEXT.length);
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

/**
 * Check a code at `depotId` at `now` (unix seconds) with cached `keys` ([{kid, alg, public_key}]).
 * Returns {authorised, reasons, payload?}; reasons use the server's codes (malformed, unknown_key, bad_signature,
 * expired, not_yet_valid, wrong_depot, plate_mismatch) plus offline_unsupported when WebCrypto lacks Ed25519.
 * Never throws.
 */
export async function verifyCode(token, { keys, depotId, now, plate = null, leeway = 300 }) {
  let decoded;
  try {
    decoded = decodeToken(token);
  } catch {
    return { authorised: false, reasons: ["malformed"] };
  }
  const key = (keys || []).find((k) => k.kid === decoded.kid && k.alg === "Ed25519");
  if (!key) return { authorised: false, reasons: ["unknown_key"] };
  let valid;
  try {
    valid = await signatureValid(key.public_key, decoded.signed, decoded.signature);
  } catch {
    return { authorised: false, reasons: (await ed25519Supported()) ? ["bad_signature"] : ["offline_unsupported"] };
  }
  if (!valid) return { authorised: false, reasons: ["bad_signature"] };
  const { payload } = decoded;
  const reasons = [];
  if (now >= payload.expires + leeway) reasons.push("expired");
  else if (now < payload.notBefore - leeway) reasons.push("not_yet_valid");
  const tag = await depotTag(depotId);
  if (hex(tag) !== hex(payload.tag)) reasons.push("wrong_depot");
  if (plate && payload.plate !== null && normalisePlate(plate) !== payload.plate) reasons.push("plate_mismatch");
  return { authorised: reasons.length === 0, reasons, payload };
}

/** SHA-256 hex of the decoded token bytes (tracking.codes.token_hash): a rack's memory of codes it spent. */
export async function tokenHash(token) {
  const text = token.replace(/^[\r\n\t]+|[\r\n\t]+$/g, "");
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", decodeBase45(text))));
}
