// The JSON API under /api/v1, with the bearer token kept in sessionStorage (gone when the tab closes).
const BASE = "/api/v1";
const TOKEN_KEY = "dd.token";
const ROLE_KEY = "dd.role";
const USER_KEY = "dd.user";

/** An answer that was not 2xx: the API's problem details (code, detail, field, reasons), or code "network". */
export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || (status === 0 ? "network" : `http_${status}`);
    this.detail = problem.detail || "";
    this.field = problem.field || null;
    this.errors = problem.errors || [];
    this.reasons = problem.reasons || [];
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  get role() {
    return sessionStorage.getItem(ROLE_KEY);
  },
  get username() {
    return sessionStorage.getItem(USER_KEY);
  },
  save({ access_token, role }, username) {
    sessionStorage.setItem(TOKEN_KEY, access_token);
    sessionStorage.setItem(ROLE_KEY, role);
    sessionStorage.setItem(USER_KEY, username);
  },
  clear() {
    for (const key of [TOKEN_KEY, ROLE_KEY, USER_KEY]) sessionStorage.removeItem(key);
  },
};

export function goToLogin() {
  const next = location.pathname + location.search;
  session.clear();
  location.assign(`/app/login?next=${encodeURIComponent(next)}`);
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return {};
  }
}

/**
 * Call the API. `body` is sent as JSON (a FormData as a multipart upload); `as` is "json" (default), "text" or "blob".
 * Throws ApiError; a 401 on anything but the login itself sends the user to the login page.
 */
export async function api(path, { method = "GET", body, headers = {}, as = "json", signal } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, signal };
  if (session.token) init.headers.Authorization = `Bearer ${session.token}`;
  if (body instanceof FormData) {
    init.body = body; // a file upload: the browser writes the multipart boundary itself
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { code: "network", detail: error.message });
  }
  if (response.status === 401 && path !== "/auth/token") {
    goToLogin();
    throw new ApiError(401, await problemOf(response));
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (as === "text") return response.text();
  if (as === "blob") return response.blob();
  if (response.status === 204) return null;
  return response.json();
}

/**
 * Every item of a paged list (`{items, total, limit, offset}`): the API answers at most 500 a page, so the
 * pages are read one after another until `total` is reached.
 */
export async function allPages(path, { pageSize = 500 } = {}) {
  const items = [];
  const glue = path.includes("?") ? "&" : "?";
  for (;;) {
    const page = await api(`${path}${glue}limit=${pageSize}&offset=${items.length}`);
    items.push(...page.items);
    if (items.length >= page.total || !page.items.length) return items;
  }
}

/** The apps each role may open, its home first (an admin lands in the back office and may go to the others). */
const APPS_OF = {
  customer: ["/app/customer"],
  rack_operator: ["/app/rack"],
  dispatcher: ["/app/dispatcher"],
  admin: ["/app/office", "/app/dispatcher", "/app/rack"],
  finance: ["/app/office"],
  driver: ["/app/driver"],
};

export function appsOf(role) {
  return APPS_OF[role] || [];
}

/** The home page of each role's app. */
export function homeOf(role) {
  return appsOf(role)[0] || "/app/login";
}

/**
 * Save what the API answers at `path` (a PDF, CSV or XLSX) as a file: the answer needs the bearer token, which a
 * plain link cannot send, so it is fetched and handed to the browser as a download.
 */
export async function download(path, filename) {
  const blob = await api(path, { as: "blob", headers: { Accept: "*/*" } });
  const url = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement("a"), { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return blob;
}
