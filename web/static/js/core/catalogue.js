// Products and depots change rarely: fetched once per page load and shared by the views.
import { api } from "./api.js";
import { currentLang } from "./i18n.js";

let products = null;
let depots = null;

export function loadProducts() {
  products ||= api("/products").catch((error) => {
    products = null;
    throw error;
  });
  return products;
}

export function loadDepots() {
  depots ||= api("/depots").catch((error) => {
    depots = null;
    throw error;
  });
  return depots;
}

export function productName(product) {
  return currentLang() === "zh-CN" && product.name_zh ? product.name_zh : product.name;
}

/** The product's name from a code, once the products are loaded. */
export async function productLabel(code) {
  const found = (await loadProducts()).find((p) => p.code === code);
  return found ? productName(found) : code;
}

export async function depotById(id) {
  return (await loadDepots()).find((d) => d.id === id) || null;
}
