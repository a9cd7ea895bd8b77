// Shared pieces of screens: status chips, timelines, detail lists, empty and error states.
import { dateTime, h } from "./dom.js";
import { errorText } from "./forms.js";
import { has, t } from "./i18n.js";

const STATUS_TONE = {
  placed: "neutral",
  awaiting_approval: "warn",
  on_hold: "warn",
  confirmed: "info",
  scheduled: "info",
  loaded: "info",
  en_route: "info",
  delivered: "ok",
  failed: "bad",
  cancelled: "muted",
  booked: "info",
  loading: "info",
  completed: "ok",
  expired: "muted",
  issued: "info",
  part_paid: "warn",
  paid: "ok",
  credited: "muted",
};

export function statusText(status) {
  return has(`status.${status}`) ? t(`status.${status}`) : status;
}

export function statusChip(status) {
  return h("span", { class: `chip chip-${STATUS_TONE[status] || "neutral"}`, dataset: { status } }, statusText(status));
}

/** <dl> of [labelKey, value] pairs; pairs with an empty value are left out. */
export function details(pairs) {
  return h(
    "dl",
    { class: "details" },
    pairs
      .filter(([, value]) => value !== undefined && value !== null && value !== "")
      .map(([key, value]) => h("div", {}, h("dt", {}, t(key)), h("dd", {}, value))),
  );
}

function eventTitle(event) {
  if (has(`events.${event.type}`)) return t(`events.${event.type}`);
  if (event.to_status) return statusText(event.to_status);
  return event.type.replaceAll("_", " ");
}

/** The timeline of an order or booking (GET …/events), oldest first. */
export function timeline(events, timeZone) {
  if (!events.length) return h("p", { class: "muted" }, t("timeline.empty"));
  return h(
    "ol",
    { class: "timeline" },
    events.map((event) =>
      h(
        "li",
        { class: "timeline-item", dataset: { type: event.type } },
        h("time", { datetime: event.at }, dateTime(event.at, timeZone)),
        h("strong", {}, eventTitle(event)),
        event.actor_role ? h("span", { class: "muted" }, ` · ${t(`roles.${event.actor_role}`)}`) : null,
        event.reason ? h("p", { class: "small" }, event.reason) : null,
      ),
    ),
  );
}

export function emptyState(key, action) {
  return h("div", { class: "empty" }, h("p", {}, t(key)), action || null);
}

export function errorState(error, retry) {
  return h(
    "div",
    { class: "notice error", role: "alert" },
    h("p", {}, errorText(error)),
    retry ? h("button", { type: "button", class: "btn", onclick: retry }, t("common.retry")) : null,
  );
}

export function pageHeader(titleKey, params, ...extra) {
  return h("div", { class: "page-header" }, h("h1", {}, t(titleKey, params)), ...extra);
}

export function linkButton(href, key, kind = "btn") {
  return h("a", { class: kind, href }, t(key));
}
