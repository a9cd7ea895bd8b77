// Products and depots change rarely: fetched once per page load, shared by the views, and kept on the device
// so that a rack without network still names what to load.
import { ApiError, api } from "./api.js";
import { currentLang } from "./i18n.js";

const pending = new Map();

function cached(path) {
  const key = `dd.cache${path}`;
  if (!pending.has(path)) {
    const load = api(path)
      .then((value) => {
        localStorage.setItem(key, JSON.stringify(value));
        return value;
      })
      .catch((error) => {
        pending.delete(path);
        const kept = localStorage.getItem(key);
        if (error instanceof ApiError && error.status === 0 && kept) return JSON.parse(kept);
        throw error;
      });
    pending.set(path, load);
  }
  return pending.get(path);
}

export function loadProducts() {
  return cached("/products");
}

export function loadDepots() {
  return cached("/depots");
}

export function productName(product) {
  return currentLang() === "zh-CN" && product.name_zh ? product.name_zh : product.name;
}

/** The product's name from a code; the code itself when the catalogue cannot be had. */
export async function productLabel(code) {
  try {
    const found = (await loadProducts()).find((p) => p.code === code);
    return found ? productName(found) : code;
  } catch {
    return code;
  }
}

export async function depotById(id) {
  try {
    return (await loadDepots()).find((d) => d.id === id) || null;
  } catch {
    return null;
  }
}
