// The office's building blocks: sub-navigation, paged and filtered tables, money inputs, downloads with the
// bearer token, progress, and the "not available" state of a part the server does not have (404) or the role
// may not see (403).
import { ApiError, api, download } from "../core/api.js";
import { h, isoDay, number, uid } from "../core/dom.js";
import { errorText } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { banner } from "../core/shell.js";
import { errorState } from "../core/ui.js";

export const BASE = "/app/office";
export const PAGE_SIZE = 25;

/** A row of links under a page's title: the parts of one area (prices: today, history, contracts, tiers). */
export function tabs(labelKey, items) {
  return h(
    "nav",
    { class: "tabs", "aria-label": t(labelKey) },
    items.map((item) => {
      const href = `${BASE}/${item.path}`;
      const current = location.pathname === href;
      return h("a", { href, "aria-current": current ? "page" : false }, t(item.key));
    }),
  );
}

export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", {}, title) : null, ...children);
}

/** A part the server does not offer yet (404) or this role may not see (403): said in words, not as an error. */
export function isUnavailable(error) {
  return error instanceof ApiError && (error.status === 404 || error.status === 403 || error.status === 405);
}

export function unavailable(error, retry) {
  if (isUnavailable(error)) {
    const key = error.status === 403 ? "office.not_for_role" : "office.not_available";
    return h("p", { class: "notice unavailable", dataset: { unavailable: String(error.status) } }, t(key));
  }
  return errorState(error, retry);
}

/** Fill `container` with what `draw()` returns; its refusal or absence in words instead. */
export async function fill(container, draw) {
  container.setAttribute("aria-busy", "true");
  try {
    const content = await draw();
    container.replaceChildren(...[content].flat().filter(Boolean));
  } catch (error) {
    container.replaceChildren(unavailable(error, () => fill(container, draw)));
  } finally {
    container.removeAttribute("aria-busy");
  }
}

// ------------------------------------------------------------------ money

/** Yuan as typed ("1,234.5", "1234.56") to fen; NaN when it is not an amount with at most two decimals. */
export function toMinor(text) {
  const clean = String(text).replace(/[,\s，]/g, "");
  if (!/^-?\d+(\.\d{1,2})?$/.test(clean)) return Number.NaN;
  const [whole, fraction = ""] = clean.replace("-", "").split(".");
  const minor = Number(whole) * 100 + Number(fraction.padEnd(2, "0"));
  return clean.startsWith("-") ? -minor : minor;
}

/** Fen as the yuan a person types back ("1234.56"). */
export function toYuan(minor) {
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(minor);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

export function moneyInput(name, { value, required = true, placeholder } = {}) {
  return h("input", {
    name,
    inputmode: "decimal",
    autocomplete: "off",
    required,
    value: value === undefined || value === null ? "" : toYuan(value),
    placeholder,
    class: "input-money",
  });
}

/** The fen in a money input, or a refusal (code `invalid_amount`) shaped like the API's, for `showError`. */
export function readMinor(input, { min = 0 } = {}) {
  const minor = toMinor(input.value);
  if (Number.isNaN(minor) || minor < min) {
    throw new ApiError(400, { code: "invalid_amount", field: input.name, detail: t("errors.invalid_amount") });
  }
  return minor;
}

// ------------------------------------------------------------------ downloads and progress

/** A button that saves an export (PDF, CSV, XLSX) fetched with the login's token; busy while it downloads. */
export function downloadButton(labelKey, path, filename, { kind = "btn btn-small" } = {}) {
  const button = h("button", { type: "button", class: `${kind} download`, dataset: { download: filename() } }, t(labelKey));
  button.addEventListener("click", async () => {
    if (button.getAttribute("aria-disabled")) return;
    button.setAttribute("aria-disabled", "true");
    button.dataset.state = "loading";
    try {
      await download(path(), filename());
      button.dataset.state = "done";
    } catch (error) {
      button.dataset.state = "failed";
      banner(isUnavailable(error) ? t("office.not_available") : errorText(error), "error");
    } finally {
      button.removeAttribute("aria-disabled");
    }
  });
  return button;
}

/** A labelled progress bar: update(done, total) or update(null) for "working" without a known end. */
export function progressBar(labelKey) {
  const id = uid("progress");
  const bar = h("progress", { id, max: 1, value: 0 });
  const text = h("span", { class: "progress-text", "aria-live": "polite" });
  const element = h("div", { class: "progress" }, h("label", { for: id }, t(labelKey)), bar, text);
  return {
    element,
    update(done, total) {
      if (total) {
        bar.max = total;
        bar.value = done;
        text.textContent = t("office.progress_of", { done: number(done), total: number(total) });
      } else if (done === null) {
        bar.removeAttribute("value");
        text.textContent = t("office.working");
      } else {
        bar.max = 1;
        bar.value = 1;
        text.textContent = "";
      }
    },
  };
}

/** Call `step()` every `ms` until it answers true (or `stop()` is called); errors stop it and are passed on. */
export function poll(step, { ms = 700, onError } = {}) {
  let timer = null;
  let stopped = false;
  async function tick() {
    if (stopped) return;
    try {
      if (await step()) return;
    } catch (error) {
      onError?.(error);
      return;
    }
    if (!stopped) timer = setTimeout(tick, ms);
  }
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

// ------------------------------------------------------------------ filters and paged tables

function filterControl(spec, value) {
  if (spec.type === "select") {
    const chosen = value || spec.default || "";
    return h(
      "select",
      { name: spec.name },
      spec.default ? null : h("option", { value: "" }, t(spec.allKey || "office.all")),
      spec.options.map((o) => h("option", { value: o.value, selected: o.value === chosen }, o.label)),
    );
  }
  return h("input", {
    name: spec.name,
    type: spec.type || "search",
    value: value || "",
    placeholder: spec.placeholderKey ? t(spec.placeholderKey) : undefined,
    autocomplete: "off",
  });
}

/**
 * A paged table with filters and exports:
 *   pagedTable({title, columns: [{key, cell(item), num?}], load({limit, offset, filters}) -> page,
 *               filters: [{name, key, type: "search"|"select"|"date", options?}], exports: [{key, path(filters),
 *               filename(filters)}], csv: {columns: [[header, (item) => value]], filename()} (a CSV made here for
 *               lists the API has no spreadsheet of), query: URLSearchParams (initial filters, kept in the address
 *               bar), emptyKey, onLoad(filters) after each page})
 * Returns {element, reload()}.
 */
export function pagedTable({
  title,
  columns,
  load,
  filters = [],
  exports = [],
  csv = null,
  query = null,
  emptyKey = "office.none",
  pageSize = PAGE_SIZE,
  rowClass,
  onLoad,
}) {
  const titleId = uid("table-title");
  const initial = query || new URLSearchParams();
  let offset = Number.parseInt(initial.get("offset") || "0", 10) || 0;
  const controls = filters.map((spec) => ({ spec, control: filterControl(spec, initial.get(spec.name) || "") }));
  const form = h(
    "form",
    { class: "filters-row", role: "search", "aria-labelledby": titleId, novalidate: true },
    controls.map(({ spec, control }) => {
      control.id = uid(`filter-${spec.name}`);
      return h("div", { class: "field field-inline" }, h("label", { for: control.id }, t(spec.key)), control);
    }),
    filters.some((f) => f.type !== "select") ? h("button", { type: "submit", class: "btn btn-small" }, t("office.apply")) : null,
  );
  const exportBox = h(
    "div",
    { class: "exports" },
    exports.map((e) => downloadButton(e.key, () => e.path(values()), () => e.filename(values()))),
    csv ? csvButton("office.export_csv", { load, filters: () => values(), columns: csv.columns, filename: csv.filename }) : null,
  );
  const summary = h("p", { class: "totals", "aria-live": "polite" });
  const body = h("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-labelledby": titleId });
  const previous = h("button", { type: "button", class: "btn btn-small", dataset: { page: "previous" } }, t("office.previous"));
  const next = h("button", { type: "button", class: "btn btn-small", dataset: { page: "next" } }, t("office.next"));
  const pager = h("div", { class: "pager" }, previous, next);
  const element = h(
    "section",
    { class: "card paged" },
    h("div", { class: "paged-head" }, h("h2", { id: titleId }, title), exportBox),
    filters.length ? form : null,
    summary,
    body,
    pager,
  );

  function values() {
    return Object.fromEntries(controls.map(({ spec, control }) => [spec.name, control.value.trim()]).filter(([, v]) => v));
  }

  function keepInAddress() {
    if (!query) return;
    const params = new URLSearchParams(values());
    if (offset) params.set("offset", String(offset));
    const search = params.toString();
    history.replaceState(null, "", `${location.pathname}${search ? `?${search}` : ""}`);
  }

  function row(item) {
    return h(
      "tr",
      { class: rowClass ? rowClass(item) : undefined },
      columns.map((c) => h("td", { class: c.num ? "num" : undefined }, c.cell(item))),
    );
  }

  async function reload() {
    body.setAttribute("aria-busy", "true");
    let page;
    try {
      page = await load({ limit: pageSize, offset, filters: values() });
    } catch (error) {
      if (error instanceof ApiError && error.status === 400 && error.field) {
        body.replaceChildren(h("p", { class: "form-error", role: "alert" }, errorText(error)));
      } else {
        body.replaceChildren(unavailable(error, reload));
      }
      summary.textContent = "";
      pager.hidden = true;
      return;
    } finally {
      body.removeAttribute("aria-busy");
    }
    keepInAddress();
    if (!page.items.length && offset > 0 && page.total > 0) {
      offset = Math.max(0, page.total - pageSize);
      return reload();
    }
    const shownTo = offset + page.items.length;
    summary.textContent = page.total
      ? t("office.showing", { from: number(offset + 1), to: number(shownTo), total: number(page.total) })
      : "";
    summary.dataset.total = String(page.total);
    body.replaceChildren(
      page.items.length
        ? h(
            "table",
            { class: "data-table" },
            h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : undefined }, t(c.key))))),
            h("tbody", {}, page.items.map(row)),
          )
        : h("p", { class: "muted empty-table" }, t(emptyKey)),
    );
    previous.disabled = offset <= 0;
    next.disabled = shownTo >= page.total;
    pager.hidden = page.total <= pageSize;
    onLoad?.(values());
    return page;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    offset = 0;
    reload();
  });
  for (const { spec, control } of controls) {
    if (spec.type === "select" || spec.type === "date") {
      control.addEventListener("change", () => {
        offset = 0;
        reload();
      });
    }
  }
  previous.addEventListener("click", () => {
    offset = Math.max(0, offset - pageSize);
    reload();
  });
  next.addEventListener("click", () => {
    offset += pageSize;
    reload();
  });
  return { element, reload, values };
}

/** A query string from an object, leaving out empty values. */
export function qs(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Load a page of `path` with the table's paging and filters (renamed by `rename`: {filter: apiParam}). */
export function pageOf(path, rename = {}) {
  return ({ limit, offset, filters }) => {
    const params = { limit, offset };
    for (const [key, value] of Object.entries(filters)) params[rename[key] || key] = value;
    return api(`${path}${qs(params)}`);
  };
}

/**
 * A customer chosen by searching its name (GET /customers?q=): a search box and the select named `name` (so that
 * the API's refusals about `customer_id` show next to it). Returns {element, select}.
 */
export function customerPicker(labelKey, { name = "customer_id", value = "", label = "", optional = false } = {}) {
  const none = optional ? t("office.all_customers") : t("office.pick_customer");
  const search = h("input", { type: "search", name: `${name}_search`, autocomplete: "off", placeholder: t("office.search_customer") });
  const select = h("select", { name, required: !optional }, value ? h("option", { value, selected: true }, label || value) : h("option", { value: "" }, none));
  search.id = uid("customer-search");
  select.id = uid(name);
  const errorId = `${select.id}-error`;
  select.setAttribute("aria-describedby", errorId);
  let seq = 0;
  let timer = null;
  async function find() {
    const mine = ++seq;
    const text = search.value.trim();
    try {
      const page = await api(`/customers${qs({ q: text, limit: 20 })}`);
      if (mine !== seq) return;
      const kept = select.value;
      select.replaceChildren(
        h("option", { value: "" }, page.total ? none : t("office.no_customer_found")),
        ...page.items.map((c) => h("option", { value: c.id, selected: c.id === kept }, c.name)),
      );
      if (page.items.length === 1 && text) select.value = page.items[0].id;
      select.dispatchEvent(new Event("change", { bubbles: true }));
    } catch (error) {
      if (mine === seq) banner(errorText(error), "error");
    }
  }
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(find, 250);
  });
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      clearTimeout(timer);
      find();
    }
  });
  if (!value) find();
  const element = h(
    "div",
    { class: "field customer-picker" },
    h("label", { for: search.id }, t("office.search_customer")),
    search,
    h("label", { for: select.id, class: "picker-choice" }, t(labelKey)),
    select,
    h("p", { class: "field-error", id: errorId, dataset: { errorFor: name } }),
  );
  return { element, select, search };
}

/**
 * A button that asks once more before it acts (deactivate, ignore a bank line): the first press turns it into
 * "Press again to confirm", the second runs `action`; it forgets after a few seconds.
 */
export function confirmButton(labelKey, confirmKey, action, { kind = "btn btn-small btn-danger-outline" } = {}) {
  const button = h("button", { type: "button", class: kind }, t(labelKey));
  let armed = null;
  button.addEventListener("click", async () => {
    if (button.getAttribute("aria-disabled")) return;
    if (!armed) {
      button.textContent = t(confirmKey);
      button.dataset.armed = "1";
      armed = setTimeout(() => {
        armed = null;
        delete button.dataset.armed;
        button.textContent = t(labelKey);
      }, 6000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    delete button.dataset.armed;
    button.setAttribute("aria-disabled", "true");
    try {
      await action();
    } finally {
      button.removeAttribute("aria-disabled");
      button.textContent = t(labelKey);
    }
  });
  return button;
}

/** YYYY-MM-DD `days` after (or before) a calendar date. */
export function addDays(isoDate, days) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/**
 * The item and field a refusal of a list body names (`[3].price_per_litre_minor`), or null: lets a grid put the
 * refusal next to the one cell it is about.
 */
export function itemOf(error) {
  const match = /^\$?\[(\d+)\]\.?(\w+)?/.exec(error?.field || "");
  return match ? { index: Number(match[1]), field: match[2] || null } : null;
}

/** Price per tonne (fen) of a price per litre at a density (kg/m³ at the standard temperature). */
export function perTonne(perLitreMinor, density) {
  return density ? Math.round((perLitreMinor * 1_000_000) / density) : null;
}

function csvCell(value) {
  let text = value === null || value === undefined ? "" : String(value);
  // A name typed by a stranger (an online application) must not become a formula in a spreadsheet.
  if (/^[=+\-@\t\r]/.test(text) && !/^-?\d+(\.\d+)?$/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * A button that saves a list the API has no spreadsheet for as CSV, with the table's filters: every page is read
 * (at most `cap` rows) and written with a byte-order mark, so that Excel reads the Chinese names right.
 *   csvButton("office.export_csv", {load, filters: () => ({...}), columns: [[header, (item) => value]], filename})
 */
export function csvButton(labelKey, { load, filters = () => ({}), columns, filename, cap = 10_000 }) {
  const button = h("button", { type: "button", class: "btn btn-small download", dataset: { download: filename() } }, t(labelKey));
  button.addEventListener("click", async () => {
    if (button.getAttribute("aria-disabled")) return;
    button.setAttribute("aria-disabled", "true");
    button.dataset.state = "loading";
    try {
      const items = [];
      for (;;) {
        const page = await load({ limit: 500, offset: items.length, filters: filters() });
        items.push(...page.items);
        if (items.length >= page.total || !page.items.length || items.length >= cap) break;
      }
      const lines = [columns.map(([header]) => csvCell(header)).join(",")];
      for (const item of items) lines.push(columns.map(([, value]) => csvCell(value(item))).join(","));
      const blob = new Blob(["\uFEFF", lines.join("\r\n"), "\r\n"], { type: "text/csv;charset=utf-8" });
      const url = URL.createObjectURL(blob);
      const link = Object.assign(document.createElement("a"), { href: url, download: filename(), hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      button.dataset.state = "done";
    } catch (error) {
      button.dataset.state = "failed";
      banner(errorText(error), "error");
    } finally {
      button.removeAttribute("aria-disabled");
    }
  });
  return button;
}

/** Up to `cap` items of a paged list, newest first as the API lists them. */
export async function firstItems(path, cap = 2000) {
  const items = [];
  const glue = path.includes("?") ? "&" : "?";
  for (;;) {
    const page = await api(`${path}${glue}limit=500&offset=${items.length}`);
    items.push(...page.items);
    if (items.length >= page.total || !page.items.length || items.length >= cap) return { items, total: page.total };
  }
}

/** Today's calendar date where the business runs (the default time zone), for file names and defaults. */
export function isoToday() {
  return isoDay(0);
}

/** The month (YYYY-MM) `months` before the current one. */
export function isoMonth(months = 0) {
  const [y, m] = isoDay(0).split("-").map(Number);
  const at = new Date(Date.UTC(y, m - 1 - months, 1));
  return at.toISOString().slice(0, 7);
}

const customerNames = new Map();

/** A customer's name by id, asked once per page load. */
export function customerName(id) {
  if (!customerNames.has(id)) {
    customerNames.set(
      id,
      api(`/customers/${id}`)
        .then((c) => c.name)
        .catch(() => id.slice(0, 8)),
    );
  }
  return customerNames.get(id);
}

/** A link to a customer's page that shows its name once known (given, or looked up). */
export function customerLink(id, name) {
  if (!id) return "";
  if (name) return h("a", { href: `${BASE}/customers/${id}`, class: "customer-link" }, name);
  const link = h("a", { href: `${BASE}/customers/${id}`, class: "customer-link" }, "…");
  customerName(id).then((name) => {
    link.textContent = name;
  });
  return link;
}
