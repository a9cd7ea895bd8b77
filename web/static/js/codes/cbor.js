// A tiny CBOR (RFC 8949) decoder for the code payload: integers, byte and text strings, arrays, null/bools.
// Definite lengths only, bounded depth; anything else is refused (the payload is canonical CBOR).
const MAX_DEPTH = 3;

export function decodeCbor(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;

  function need(n) {
    if (pos + n > bytes.length) throw new Error("cbor: truncated");
  }

  function argument(info) {
    if (info < 24) return info;
    const size = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
    if (!size) throw new Error("cbor: unsupported length");
    need(size);
    let value;
    if (size === 1) value = view.getUint8(pos);
    else if (size === 2) value = view.getUint16(pos);
    else if (size === 4) value = view.getUint32(pos);
    else {
      const big = view.getBigUint64(pos);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("cbor: integer too large");
      value = Number(big);
    }
    pos += size;
    return value;
  }

  function item(depth) {
    if (depth > MAX_DEPTH) throw new Error("cbor: too deep");
    need(1);
    const initial = bytes[pos++];
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (major === 7) {
      if (info === 20) return false;
      if (info === 21) return true;
      if (info === 22) return null;
      throw new Error("cbor: unsupported simple value");
    }
    const arg = argument(info);
    switch (major) {
      case 0:
        return arg;
      case 1:
        return -1 - arg;
      case 2: {
        need(arg);
        const out = bytes.slice(pos, pos + arg);
        pos += arg;
        return out;
      }
      case 3: {
        need(arg);
        const out = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(pos, pos + arg));
        pos += arg;
        return out;
      }
      case 4: {
        if (arg > 64) throw new Error("cbor: array too long");
        const out = [];
        for (let i = 0; i < arg; i++) out.push(item(depth + 1));
        return out;
      }
      default:
        throw new Error("cbor: unsupported type");
    }
  }

  const value = item(0);
  if (pos !== bytes.length) throw new Error("cbor: trailing bytes");
  return value;
}
