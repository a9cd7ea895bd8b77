// An order's share link (no login): its status, delivery window and ETA, and the tanker on a map while it is on
// its way to the site (as the customer's own tracking shows it). The link itself is the key (`/share/{token}`).
import { ApiError, api } from "../core/api.js";
import { dateTime, day, h } from "../core/dom.js";
import { errorText } from "../core/forms.js";
import { onLangChange, t } from "../core/i18n.js";
import { initShell, setTitle } from "../core/shell.js";
import { details, statusChip } from "../core/ui.js";
import { createMap } from "../map/map.js";

const REFRESH_MS = 15_000;
const main = document.getElementById("main");
const token = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const ENDED = new Set(["share_link_invalid", "share_link_expired", "share_link_revoked"]);
const TIME_ZONE = "Asia/Shanghai";

let shared = null;
let map = null;
let timer = null;

function ended(error) {
  clearInterval(timer);
  const code = ENDED.has(error.code) ? error.code : "share_link_invalid";
  main.replaceChildren(
    h("section", { class: "notice link-ended", role: "alert", dataset: { code } }, h("h1", {}, t("track.ended_title")), h("p", {}, t(`errors.${code}`))),
  );
}

function draw() {
  setTitle("track.title_ref", { reference: shared.reference });
  map?.destroy();
  map = null;
  const parts = [
    h("div", { class: "page-header" }, h("h1", {}, t("track.title_ref", { reference: shared.reference })), h("p", { class: "status-line", "aria-live": "polite" }, statusChip(shared.status))),
    h(
      "section",
      { class: "card" },
      details([
        ["order.date", day(shared.delivery_date)],
        ["order.window", `${shared.window_start}–${shared.window_end}`],
        ["order.eta", shared.eta ? dateTime(shared.eta, TIME_ZONE) : ""],
        ["order.last_position", shared.tanker ? dateTime(shared.tanker.recorded_at, TIME_ZONE) : ""],
      ]),
    ),
  ];
  if (shared.tanker) {
    map = createMap({ aspect: 4 / 3, minHeight: 240, maxHeight: 420, className: "share-map" });
    parts.push(h("section", { class: "card", id: "tanker" }, h("h2", {}, t("track.tanker")), map.element));
  } else {
    parts.push(h("p", { class: "muted" }, t("track.no_tanker")));
  }
  main.replaceChildren(...parts);
  map?.update({ tankers: [{ lat: shared.tanker.lat, lon: shared.tanker.lon, colour: "#16201b" }], label: t("track.map_label") });
}

async function refresh() {
  try {
    shared = await api(`/share/${token}`);
    draw();
  } catch (error) {
    if (error instanceof ApiError && [404, 410].includes(error.status)) ended(error);
    else if (!shared) main.replaceChildren(h("p", { class: "notice error", role: "alert" }, errorText(error)));
  }
}

if (await initShell({ titleKey: "track.title" })) {
  if (!main.querySelector(".link-ended")) {
    await refresh();
    timer = setInterval(() => {
      if (document.visibilityState === "visible") refresh();
    }, REFRESH_MS);
    onLangChange(() => shared && draw());
  }
}
