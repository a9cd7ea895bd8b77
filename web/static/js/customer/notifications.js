// The notification centre of the customer app: a bell in the top bar with the unread count, kept live by the
// user's own stream (GET /me/notifications/live) and a slow poll; the list (GET /me/notifications, newest first,
// paged), read one by one or all at once; and the settings (GET/PUT /me/notification-settings): channels with
// their addresses, the kinds wanted, quiet hours and the messages' language, each refusal shown by its field.
import { api } from "../core/api.js";
import { dateTime, h, number, uid } from "../core/dom.js";
import { busy, clearErrors, errorText, field, showError } from "../core/forms.js";
import { LANGUAGES, has, onLangChange, t } from "../core/i18n.js";
import { follow } from "../core/live.js";
import { banner, setTitle } from "../core/shell.js";
import { emptyState, errorState, pageHeader } from "../core/ui.js";

const BASE = "/app/customer";
const PAGE_SIZE = 20;
const POLL_MS = 60_000;
// Told on `window` whenever the inbox changed: a new notification arrived, or some were read.
export const INBOX_CHANGED = "dd:inbox-changed";
const SVG = "http://www.w3.org/2000/svg";
/** A control's name as the API names its field in a refusal: the group, a dot and the field. */
const apiField = (group, name) => `${group}.${name}`;

let unread = 0;
let bellParts = null;

function stylesheet() {
  if (document.querySelector("link[data-notifications]")) return;
  const link = h("link", { rel: "stylesheet", href: "/static/css/notifications.css", dataset: { notifications: "1" } });
  document.head.append(link);
}

function bellIcon() {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "22");
  svg.setAttribute("height", "22");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute(
    "d",
    "M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z",
  );
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

function showCount() {
  if (!bellParts) return;
  const { bell, count } = bellParts;
  count.textContent = unread > 99 ? "99+" : number(unread);
  count.hidden = unread === 0;
  bell.dataset.unread = String(unread);
  const label = unread ? t("notify.bell_unread", { n: number(unread) }) : t("notify.bell");
  bell.setAttribute("aria-label", label);
  bell.title = label;
}

function setUnread(n, detail = {}) {
  unread = Math.max(0, Number(n) || 0);
  showCount();
  window.dispatchEvent(new CustomEvent(INBOX_CHANGED, { detail: { unread, ...detail } }));
}

async function refreshCount(detail) {
  try {
    const answer = await api("/me/notifications?limit=1");
    setUnread(answer.unread, detail);
  } catch (error) {
    console.warn("notifications unavailable", error.code || error);
  }
}

/** Put the bell in the top bar and keep its count live. Returns stop(). */
export function startBell() {
  stylesheet();
  const count = h("span", { class: "bell-count", "aria-hidden": "true", hidden: true });
  const bell = h("a", { class: "bell", id: "bell", href: `${BASE}/notifications` }, bellIcon(), count);
  bellParts = { bell, count };
  const tools = document.querySelector(".topbar-tools");
  tools.prepend(bell);
  showCount();
  refreshCount();
  const stop = follow("/me/notifications/live", {
    onEvent: (event) => {
      if (event.type === "notification") refreshCount({ fresh: event.data?.data || event.data });
    },
    onState: (state) => {
      bell.dataset.live = state;
    },
  });
  const timer = setInterval(() => refreshCount(), POLL_MS);
  const forget = onLangChange(showCount);
  return () => {
    stop();
    clearInterval(timer);
    forget();
    bell.remove();
    bellParts = null;
  };
}

// ------------------------------------------------------------------ the centre

function notificationItem(n, onRead) {
  const read = Boolean(n.read_at);
  const button = read
    ? null
    : h("button", { type: "button", class: "btn btn-small", dataset: { read: n.id } }, t("notify.mark_read"));
  const title = h("h2", { class: "notification-title" }, n.title);
  const item = h(
    "li",
    { class: `notification${read ? "" : " unread"}`, dataset: { id: n.id, kind: n.kind, read: read ? "true" : "false" } },
    h("div", { class: "notification-head" }, read ? null : h("span", { class: "unread-dot", "aria-hidden": "true" }), title),
    h("p", { class: "notification-body" }, n.body),
    h(
      "p",
      { class: "notification-meta" },
      h("time", { datetime: n.created_at }, dateTime(n.created_at)),
      read ? null : h("span", { class: "visually-hidden" }, ` · ${t("notify.unread")}`),
      n.link ? [" · ", h("a", { href: n.link, class: "notification-link" }, t("notify.open"))] : null,
      button ? [" ", button] : null,
    ),
  );
  button?.addEventListener("click", () => onRead(n, button));
  return item;
}

export async function notificationsView(main, _params, ctx) {
  setTitle("notify.title");
  const readAll = h("button", { type: "button", class: "btn btn-small", id: "read-all" }, t("notify.mark_all_read"));
  const settingsLink = h("a", { class: "btn btn-small", href: `${BASE}/notifications/settings` }, t("notify.settings"));
  const summary = h("p", { class: "notifications-summary", "aria-live": "polite" });
  const list = h("ol", { class: "notifications", "aria-label": t("notify.title") });
  const more = h("button", { type: "button", class: "btn btn-block", id: "more-notifications", hidden: true }, t("common.more"));
  const body = h("div", { class: "notifications-box" });
  main.append(pageHeader("notify.title"), h("div", { class: "notifications-actions" }, readAll, settingsLink), summary, body);

  let shown = [];
  let total = 0;

  function draw() {
    summary.textContent = unread ? t("notify.unread_n", { n: number(unread) }) : t("notify.all_read");
    summary.dataset.unread = String(unread);
    readAll.hidden = unread === 0;
    list.replaceChildren(...shown.map((n) => notificationItem(n, markRead)));
    more.hidden = shown.length >= total;
    body.replaceChildren(shown.length ? list : emptyState("notify.none"), more);
  }

  async function load({ append = false } = {}) {
    const offset = append ? shown.length : 0;
    const limit = append ? PAGE_SIZE : Math.max(PAGE_SIZE, shown.length);
    const page = await api(`/me/notifications?limit=${limit}&offset=${offset}`);
    if (!ctx.isCurrent()) return;
    const seen = new Set(append ? shown.map((n) => n.id) : []);
    shown = append ? [...shown, ...page.items.filter((n) => !seen.has(n.id))] : page.items;
    total = page.total;
    unread = page.unread;
    showCount();
    draw();
  }

  async function markRead(n, button) {
    button.setAttribute("aria-disabled", "true");
    try {
      const updated = await api(`/me/notifications/${n.id}/read`, { method: "POST" });
      shown = shown.map((x) => (x.id === n.id ? updated : x));
      await refreshCount({ read: n.id });
    } catch (error) {
      banner(errorText(error), "error");
      button.removeAttribute("aria-disabled");
    }
  }

  readAll.addEventListener("click", async () => {
    readAll.setAttribute("aria-disabled", "true");
    try {
      await api("/me/notifications/read-all", { method: "POST" });
      await load();
      setUnread(0, { readAll: true });
      list.querySelector(".notification")?.setAttribute("tabindex", "-1");
    } catch (error) {
      banner(errorText(error), "error");
    } finally {
      readAll.removeAttribute("aria-disabled");
    }
  });
  more.addEventListener("click", () => load({ append: true }).catch((error) => banner(errorText(error), "error")));

  const onChange = (event) => {
    if (!ctx.isCurrent()) return;
    // New ones come in at the top; a read elsewhere (another tab, the bell) shows here too.
    if (event.detail.fresh || event.detail.readAll) load().catch(() => {});
    else draw();
  };
  window.addEventListener(INBOX_CHANGED, onChange);
  try {
    await load();
  } catch (error) {
    body.replaceChildren(errorState(error, () => load()));
  }
  return () => window.removeEventListener(INBOX_CHANGED, onChange);
}

// ------------------------------------------------------------------ settings

const ADDRESS_CHANNELS = [
  ["email", "email", "email"],
  ["sms", "tel", "tel"],
  ["wechat", "text", "off"],
];

function eventLabel(kind) {
  return has(`notify.kind_${kind}`) ? t(`notify.kind_${kind}`) : has(`events.${kind}`) ? t(`events.${kind}`) : kind.replaceAll("_", " ");
}

function fieldset(legendKey, errorFor, ...children) {
  const errorId = uid(`${errorFor}-error`);
  return h(
    "fieldset",
    { class: "field fieldset", "aria-describedby": errorId },
    h("legend", {}, t(legendKey)),
    ...children,
    h("p", { class: "field-error", id: errorId, dataset: { errorFor } }),
  );
}

/** A refusal by its field: the API's `field`, else the group it belongs to (quiet hours, events). */
function placeError(form, error) {
  const known = (name) => name && form.querySelector(`.field-error[data-error-for="${CSS.escape(name)}"]`);
  let name = error.field || error.errors?.[0]?.key?.replace(/^body\.?/, "") || null;
  if (error.code === "invalid_quiet_hours") name = "quiet_hours";
  while (name && !known(name) && name.includes(".")) name = name.slice(0, name.lastIndexOf("."));
  if (name && !known(name) && name.startsWith("quiet_hours")) name = "quiet_hours";
  showError(form, { ...error, field: known(name) ? name : null, errors: [], code: error.code, status: error.status, detail: error.detail });
}

export async function notificationSettingsView(main, _params, ctx) {
  setTitle("notify.settings_title");
  main.append(pageHeader("notify.settings_title"));
  let current;
  try {
    current = await api("/me/notification-settings");
  } catch (error) {
    main.append(errorState(error, () => ctx.navigate(`${BASE}/notifications/settings`, { replace: true })));
    return;
  }
  if (!ctx.isCurrent()) return;
  const available = new Set(current.available_channels);

  const web = h("input", { type: "checkbox", name: apiField("channels", "web"), checked: current.channels.web });
  const webId = uid("channel-web");
  web.id = webId;
  const addresses = ADDRESS_CHANNELS.map(([name, type, autocomplete]) => {
    const input = h("input", {
      type,
      name: apiField("channels", name),
      value: current.channels[name] || "",
      autocomplete,
      inputmode: name === "sms" ? "tel" : undefined,
      placeholder: has(`notify.${name}_placeholder`) ? t(`notify.${name}_placeholder`) : undefined,
    });
    const wrapper = field(`notify.channel_${name}`, input, { hint: `notify.${name}_hint` });
    if (!available.has(name)) {
      wrapper.append(h("p", { class: "hint not-configured", dataset: { channel: name } }, t("notify.channel_not_configured")));
    }
    return { name, input, wrapper };
  });

  const events = current.available_events.map((kind) => {
    const id = uid(`event-${kind}`);
    const box = h("input", { type: "checkbox", name: "events", value: kind, id, checked: current.events.includes("*") || current.events.includes(kind) });
    return { kind, box, row: h("div", { class: "check" }, box, h("label", { for: id }, eventLabel(kind))) };
  });

  const quietOn = h("input", { type: "checkbox", name: "quiet_on", id: uid("quiet-on"), checked: Boolean(current.quiet_hours) });
  const quietStart = h("input", { type: "time", name: apiField("quiet_hours", "start"), value: current.quiet_hours?.start || "22:00" });
  const quietEnd = h("input", { type: "time", name: apiField("quiet_hours", "end"), value: current.quiet_hours?.end || "07:00" });
  const quietFields = h("div", { class: "quiet-fields" }, field("notify.quiet_start", quietStart), field("notify.quiet_end", quietEnd));
  const showQuiet = () => {
    quietFields.hidden = !quietOn.checked;
  };
  quietOn.addEventListener("change", showQuiet);
  showQuiet();

  const language = h(
    "select",
    { name: "language" },
    LANGUAGES.map((code) => h("option", { value: code, selected: code === current.language }, t(`notify.language_${code}`))),
  );

  const saved = h("p", { class: "saved", role: "status", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "card form notification-settings", novalidate: true },
    fieldset(
      "notify.channels",
      "channels",
      h("div", { class: "check" }, web, h("label", { for: webId }, t("notify.channel_web"))),
      addresses.map((a) => a.wrapper),
    ),
    fieldset("notify.events", "events", h("div", { class: "checks" }, events.map((e) => e.row))),
    fieldset(
      "notify.quiet_hours",
      "quiet_hours",
      h("p", { class: "hint" }, t("notify.quiet_hint")),
      h("div", { class: "check" }, quietOn, h("label", { for: quietOn.id }, t("notify.quiet_on"))),
      quietFields,
    ),
    field("notify.language", language, { hint: "notify.language_hint" }),
    h("button", { type: "submit", class: "btn btn-block" }, t("notify.save")),
    saved,
  );
  main.append(form, h("p", {}, h("a", { href: `${BASE}/notifications` }, t("notify.back_to_list"))));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, async () => {
      clearErrors(form);
      saved.textContent = "";
      const channels = { web: web.checked };
      for (const { name, input } of addresses) channels[name] = input.value.trim() || null;
      const body = {
        channels,
        events: events.filter((e) => e.box.checked).map((e) => e.kind),
        quiet_hours: quietOn.checked ? { start: quietStart.value, end: quietEnd.value } : null,
        language: language.value,
      };
      try {
        const answer = await api("/me/notification-settings", { method: "PUT", body });
        current = answer;
        saved.textContent = t("notify.saved");
        form.dataset.saved = String(Date.now());
      } catch (error) {
        placeError(form, error);
      }
    });
  });
}
