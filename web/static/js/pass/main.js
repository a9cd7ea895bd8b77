// The truck driver's pickup pass (no login, phone first): at the depot gate the driver scans the gate's QR code
// with the phone's camera (or types it) to check in, then sees the place in the queue and the loading bay, live;
// the pickup QR code for the rack, full-screen; the slot and the depot with its position on a map. The link itself
// is the key (`/pass/{token}`): the page shows nothing else of the customer's account.
import { ApiError, api } from "../core/api.js";
import { dateTime, h, litres, time } from "../core/dom.js";
import { busy, clearErrors, errorText, field, showError } from "../core/forms.js";
import { onLangChange, t } from "../core/i18n.js";
import { qrElement } from "../core/qr.js";
import { initShell, setTitle } from "../core/shell.js";
import { details, statusChip } from "../core/ui.js";
import { createMap } from "../map/map.js";
import { startScanner } from "../scan/scanner.js";

const REFRESH_MS = 5_000; // the queue moves while the driver waits: look again this often
const main = document.getElementById("main");
const token = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const ENDED = new Set(["pass_used", "pass_cancelled", "pass_expired", "pass_replaced", "pass_invalid"]);

let pass = null;
let qrSvg = null;
let scanner = null;
let map = null;
let timer = null;

function ended(error) {
  stopScanner();
  clearInterval(timer);
  const code = ENDED.has(error.code) ? error.code : "pass_invalid";
  setTitle("pass.title");
  main.replaceChildren(
    h(
      "section",
      { class: "notice link-ended", role: "alert", dataset: { code } },
      h("h1", {}, t("pass.ended_title")),
      h("p", {}, t(`errors.${code}`)),
    ),
  );
}

function stopScanner() {
  scanner?.stop();
  scanner = null;
}

async function checkIn(gateCode, form) {
  clearErrors(form);
  await busy(form, async () => {
    try {
      await api(`/pass/${token}/check-in`, { method: "POST", body: { gate_code: gateCode } });
      stopScanner();
      await refresh();
    } catch (error) {
      if (error instanceof ApiError && error.status === 410) return ended(error);
      form.querySelector("details").open = true;
      showError(form, error);
      scanner?.resume();
    }
  });
}

/** Not checked in yet: the camera reads the gate's code, or the driver types it. */
function checkInCard() {
  const video = h("video", { class: "camera-video", muted: true, playsinline: true, "aria-label": t("pass.camera") });
  const frame = h("div", { class: "camera-frame", hidden: true }, video);
  const message = h("p", { class: "camera-message", "aria-live": "polite" });
  const typed = h("input", { name: "gate_code", autocomplete: "off", autocapitalize: "characters", spellcheck: "false" });
  const form = h(
    "form",
    { class: "form", novalidate: true },
    h("details", {}, h("summary", {}, t("pass.type_code")), field("pass.gate_code", typed), h("button", { type: "submit", class: "btn btn-block" }, t("pass.check_in"))),
  );
  const scan = h("button", { type: "button", class: "btn btn-primary btn-block btn-big", id: "scan-gate" }, t("pass.scan_gate"));
  scan.addEventListener("click", async () => {
    scan.hidden = true;
    frame.hidden = false;
    message.textContent = t("pass.camera_starting");
    try {
      scanner = await startScanner(video, {
        onCode: (text) => {
          scanner?.pause();
          message.textContent = t("pass.checking_in");
          checkIn(text, form);
        },
      });
      message.textContent = t("pass.camera_ready");
      main.dataset.decoder = scanner.decoder;
    } catch (error) {
      console.warn("camera unavailable:", error.name);
      frame.hidden = true;
      scan.hidden = false;
      message.textContent = t(error.name === "NotAllowedError" ? "pass.camera_denied" : "pass.camera_none");
      form.querySelector("details").open = true;
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const code = typed.value.replace(/^[\r\n\t]+|[\r\n\t]+$/g, "");
    if (code.trim()) checkIn(code, form);
  });
  return h(
    "section",
    { class: "card gate", id: "gate", dataset: { checkedIn: "0" } },
    h("h2", {}, t("pass.at_the_gate")),
    h("p", {}, t("pass.gate_hint", { from: time(pass.check_in_opens_at, pass.depot.timezone) })),
    scan,
    frame,
    message,
    form,
  );
}

/** Checked in: the place in the queue and the bay, in big letters. */
function queueCard(at) {
  const tz = pass.depot.timezone;
  const bay = at.bay
    ? h("p", { class: "gate-bay", id: "bay" }, t("gate.bay_n", { n: at.bay }))
    : h("p", { class: "gate-wait", id: "bay" }, t("gate.waiting_for_bay"));
  return h(
    "section",
    { class: "card gate gate-in", id: "gate", dataset: { checkedIn: "1", bay: at.bay ?? "", position: at.queue_position ?? "" } },
    h("h2", {}, t("pass.checked_in")),
    h("p", { class: "gate-position", id: "position" }, t("gate.position_of", { n: at.queue_position ?? "–", total: at.queue_length })),
    bay,
    h("p", { class: "muted small" }, t("gate.checked_in_at", { time: time(at.checked_in_at, tz) })),
  );
}

function qrCard() {
  const figure = h(
    "figure",
    { class: "qr-figure" },
    h("div", { class: "qr-code", id: "pickup-qr" }, qrElement(qrSvg, t("pickup.qr_alt", { reference: pass.reference }))),
    h("figcaption", {}, h("strong", { class: "qr-reference" }, pass.reference), h("span", {}, pass.vehicle_plate)),
  );
  const fullscreen = h("button", { type: "button", class: "btn btn-block" }, t("pickup.fullscreen"));
  fullscreen.hidden = !document.fullscreenEnabled;
  fullscreen.addEventListener("click", () => figure.requestFullscreen?.().catch(() => {}));
  figure.addEventListener("click", () => figure.requestFullscreen?.().catch(() => {}));
  return h("section", { class: "card pass-qr", "aria-label": t("pickup.qr_title") }, figure, h("p", { class: "qr-hint" }, t("pass.qr_hint")), fullscreen);
}

function depotCard() {
  const depot = pass.depot;
  map?.destroy();
  map = createMap({ aspect: 4 / 3, minHeight: 200, maxHeight: 320, className: "pass-map" });
  const card = h(
    "section",
    { class: "card", "aria-labelledby": "depot-title" },
    h("h2", { id: "depot-title" }, depot.name),
    details([
      ["pass.slot", `${dateTime(pass.slot_start, depot.timezone)}–${time(pass.slot_end, depot.timezone)}`],
      ["pass.address", depot.address || ""],
      ["pass.load", `${pass.product_code} · ${litres(pass.quantity_litres)}`],
      ["pickup.plate", pass.vehicle_plate],
    ]),
    map.element,
  );
  map.update({ depots: [{ lat: depot.lat, lon: depot.lon, name: depot.name }], label: t("pass.map_label") });
  return card;
}

function draw() {
  setTitle("pass.title_ref", { reference: pass.reference });
  const gate = pass.check_in ? queueCard(pass.check_in) : checkInCard();
  main.replaceChildren(
    h("div", { class: "page-header" }, h("h1", {}, t("pass.title_ref", { reference: pass.reference })), h("p", { class: "status-line" }, statusChip(pass.status))),
    gate,
    qrCard(),
    depotCard(),
  );
}

async function refresh() {
  try {
    const next = await api(`/pass/${token}`);
    const changed = !pass || JSON.stringify(next.check_in) !== JSON.stringify(pass.check_in) || next.status !== pass.status;
    pass = next;
    if (changed && !scanner) draw();
  } catch (error) {
    if (error instanceof ApiError && (error.status === 410 || error.status === 404)) ended(error);
    else if (!pass) main.replaceChildren(h("p", { class: "notice error", role: "alert" }, errorText(error)));
  }
}

if (await initShell({ titleKey: "pass.title" })) {
  if (!main.querySelector(".link-ended")) {
    // The server already said this pass no longer works when it sent a notice instead of the page.
    try {
      [pass, qrSvg] = await Promise.all([api(`/pass/${token}`), api(`/pass/${token}/qr.svg`, { as: "text" })]);
      draw();
      timer = setInterval(() => {
        if (document.visibilityState === "visible") refresh();
      }, REFRESH_MS);
      navigator.wakeLock?.request("screen").catch(() => {});
    } catch (error) {
      if (error instanceof ApiError) ended(error);
      else throw error;
    }
    onLangChange(() => pass && !scanner && draw());
  }
}
