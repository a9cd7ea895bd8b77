// The rack's one working screen: camera (or typed code) -> verdict -> loading form -> ticket -> next truck.
import { api } from "../core/api.js";
import { h } from "../core/dom.js";
import { errorText } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { errorState } from "../core/ui.js";
import { startScanner } from "../scan/scanner.js";
import { checkCode, redeem } from "./check.js";
import { cachedKeys, depotAmong, myDepots, queued, refreshKeys, uploadQueue } from "./store.js";
import { queuedCard, ticketCard } from "./ticket.js";
import { loadingForm, verdictPanel } from "./verdict.js";

const UPLOAD_EVERY_MS = 30_000;

function statusStrip(here, canChange) {
  const connection = h("span", { class: "chip", id: "connection" });
  const queueText = h("span", { id: "queue-count" });
  const keysText = h("span", { class: "muted small", id: "keys-count" });
  const upload = h("button", { type: "button", class: "btn btn-small", id: "upload" }, t("rack.upload_now"));
  const strip = h(
    "div",
    { class: "rack-strip" },
    h(
      "span",
      { id: "rack-depot" },
      `${t("rack.depot")}: `,
      h("strong", {}, here.name),
      canChange ? [" ", h("a", { href: "/app/rack/depot" }, t("rack.change"))] : null,
    ),
    connection,
    keysText,
    queueText,
    upload,
  );
  function refresh() {
    const online = navigator.onLine !== false;
    connection.className = `chip ${online ? "chip-ok" : "chip-bad"}`;
    connection.textContent = t(online ? "rack.online" : "rack.offline");
    keysText.textContent = t("rack.keys_cached", { n: cachedKeys().keys.length });
    const n = queued().length;
    queueText.textContent = n ? t("rack.queued", { n }) : "";
    upload.hidden = n === 0;
  }
  async function sync() {
    if (!queued().length) return;
    try {
      const result = await uploadQueue();
      if (result) {
        banner(t("rack.uploaded", { accepted: result.accepted, conflicts: result.conflicts }), result.conflicts ? "warn" : "ok");
      }
    } catch (error) {
      banner(errorText(error), "error");
    }
    refresh();
  }
  upload.addEventListener("click", sync);
  refresh();
  return { strip, refresh, sync };
}

function manualForm(onToken) {
  const token = h("textarea", {
    name: "token",
    id: "manual-token",
    rows: 3,
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
  });
  const plate = h("input", { name: "vehicle_plate", id: "manual-plate", autocomplete: "off", autocapitalize: "characters" });
  const form = h(
    "form",
    { class: "card form", novalidate: true },
    h("h2", {}, t("rack.manual_title")),
    h("div", { class: "field" }, h("label", { for: "manual-token" }, t("rack.code")), token),
    h("div", { class: "field" }, h("label", { for: "manual-plate" }, t("rack.plate_optional")), plate),
    h("button", { type: "submit", class: "btn btn-block" }, t("rack.check")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    // Spaces are Base45 characters (a code may begin or end with one): only line breaks and tabs go.
    const code = token.value.replace(/^[\r\n\t]+|[\r\n\t]+$/g, "");
    if (code.trim()) onToken(code, plate.value.trim());
  });
  return form;
}

/** A pickup truck at the gate: check it in (its queue position and bay are shown, and on the driver's pass). */
function checkInBox(token, here) {
  const said = h("p", { class: "check-in-result", "aria-live": "polite" });
  const button = h("button", { type: "button", class: "btn btn-block", id: "rack-check-in" }, t("rack.check_in"));
  button.addEventListener("click", async () => {
    button.setAttribute("aria-disabled", "true");
    try {
      const done = await api("/rack/check-in", { method: "POST", body: { token, depot_id: here.id } });
      const queue = done.queue;
      said.textContent = t("rack.checked_in", {
        position: queue.queue_position ?? "–",
        bay: queue.bay ? t("gate.bay_n", { n: queue.bay }) : t("gate.waiting_for_bay"),
      });
      said.dataset.bay = queue.bay ?? "";
    } catch (error) {
      said.textContent = errorText(error);
    } finally {
      button.removeAttribute("aria-disabled");
    }
  });
  return h("div", { class: "card check-in no-print" }, button, said);
}

export async function scanView(main, _params, ctx) {
  setTitle("rack.title");
  let depots;
  try {
    depots = await myDepots();
  } catch (error) {
    main.append(errorState(error));
    return undefined;
  }
  if (!ctx.isCurrent()) return undefined;
  // Only one of the operator's own depots: one left behind on this device by another operator is not used.
  const here = depotAmong(depots);
  if (!here) {
    ctx.navigate("/app/rack/depot", { replace: true });
    return undefined;
  }
  const status = statusStrip(here, depots.length > 1);
  const video = h("video", { class: "camera-video", muted: true, playsinline: true, "aria-label": t("rack.camera") });
  const cameraMessage = h("p", { class: "camera-message", "aria-live": "polite" }, t("rack.camera_starting"));
  const cameraButton = h("button", { type: "button", class: "btn", hidden: true }, t("rack.camera_start"));
  const result = h("div", { class: "rack-result", id: "rack-result" }, h("p", { class: "placeholder" }, t("rack.waiting")));
  main.append(
    h("h1", { class: "visually-hidden" }, t("rack.title")),
    status.strip,
    h(
      "div",
      { class: "rack-layout" },
      h(
        "div",
        { class: "rack-input" },
        h("section", { class: "card camera", "aria-label": t("rack.camera") }, h("div", { class: "camera-frame" }, video), cameraMessage, cameraButton),
        manualForm((token, plate) => handle(token, plate)),
      ),
      result,
    ),
  );

  let scanner = null;
  let busy = false;

  async function startCamera() {
    cameraButton.hidden = true;
    cameraMessage.textContent = t("rack.camera_starting");
    try {
      scanner = await startScanner(video, { onCode: (text) => handle(text, "") });
      if (!ctx.isCurrent()) {
        scanner.stop();
        return;
      }
      cameraMessage.textContent = t("rack.camera_ready");
      main.dataset.decoder = scanner.decoder;
    } catch (error) {
      console.warn("camera unavailable:", error.name);
      const key = { NotAllowedError: "rack.camera_denied", DecoderMissing: "rack.decoder_missing" }[error.name];
      cameraMessage.textContent = t(key || "rack.camera_none");
      cameraButton.hidden = false;
    }
  }
  cameraButton.addEventListener("click", startCamera);

  function nextTruck() {
    busy = false;
    result.replaceChildren(h("p", { class: "placeholder" }, t("rack.waiting")));
    scanner?.resume();
    status.refresh();
  }

  async function handle(token, plate) {
    if (busy) return;
    busy = true;
    scanner?.pause();
    result.replaceChildren(h("p", { class: "placeholder" }, t("rack.checking")));
    try {
      const verdict = await checkCode(token, here.id, plate);
      result.replaceChildren(await verdictPanel(verdict));
      if (result.getBoundingClientRect().top > window.innerHeight * 0.6) result.scrollIntoView({ block: "start" });
      if (!verdict.authorised) {
        result.append(nextButton("rack.scan_again"));
        return;
      }
      if (verdict.kind === "pickup" && !verdict.offline) result.append(checkInBox(token, here));
      result.append(
        loadingForm(verdict, async ({ litres, temperature, plate: truck }) => {
          const done = await redeem({ token, depotId: here.id, litres, temperature, plate: truck });
          const card = done.ticket ? await ticketCard(done.ticket, here) : await queuedCard(done.queued, verdict, here);
          result.replaceChildren(card, nextButton());
          status.refresh();
        }),
        nextButton("common.cancel"),
      );
      result.querySelector("input[name=loaded_litres_observed]").focus();
    } catch (error) {
      result.replaceChildren(h("p", { class: "notice error", role: "alert" }, errorText(error)), nextButton());
    }
  }

  function nextButton(key = "rack.next") {
    return h("button", { type: "button", class: "btn btn-block no-print", onclick: nextTruck }, t(key));
  }

  const onOnline = () => {
    status.refresh();
    status.sync();
    refreshKeys().then(status.refresh);
  };
  window.addEventListener("online", onOnline);
  window.addEventListener("offline", status.refresh);
  const timer = setInterval(status.sync, UPLOAD_EVERY_MS);
  status.sync();
  refreshKeys().then(status.refresh);
  startCamera();
  return () => {
    scanner?.stop();
    clearInterval(timer);
    window.removeEventListener("online", onOnline);
    window.removeEventListener("offline", status.refresh);
  };
}
