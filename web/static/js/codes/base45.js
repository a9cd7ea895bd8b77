// Base45 (RFC 9285): the QR alphanumeric alphabet, 3 characters for 2 bytes.
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
const VALUE = new Map([...ALPHABET].map((ch, i) => [ch, i]));

/** Decode Base45 text to bytes; throws Error on anything that is not canonical Base45. */
export function decodeBase45(text) {
  const out = [];
  for (let i = 0; i < text.length; i += 3) {
    const chunk = text.slice(i, i + 3);
    if (chunk.length === 1) throw new Error("base45: dangling character");
    const digits = [...chunk].map((ch) => {
      const v = VALUE.get(ch);
      if (v === undefined) throw new Error("base45: bad character");
      return v;
    });
    const n = digits[0] + digits[1] * 45 + (digits.length === 3 ? digits[2] * 2025 : 0);
    if (digits.length === 3) {
      if (n > 0xffff) throw new Error("base45: group out of range");
      out.push(n >> 8, n & 0xff);
    } else {
      if (n > 0xff) throw new Error("base45: group out of range");
      out.push(n);
    }
  }
  return new Uint8Array(out);
}
