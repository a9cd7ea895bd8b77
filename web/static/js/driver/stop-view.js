// One stop: where, when, how much; arrive, deliver (observed litres, temperature, meter readings, the customer's
// receipt code read with the camera — the same scanner as the rack — or typed), or fail with a reason.
import { api } from "../core/api.js";
import { productLabel } from "../core/catalogue.js";
import { h, litres, number, time } from "../core/dom.js";
import { busy, checkRequired, clearErrors, errorText, field, showError } from "../core/forms.js";
import { has, t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { details, errorState } from "../core/ui.js";
import { startScanner } from "../scan/scanner.js";
import { followRoute } from "./gps.js";
import { TZ, dayOf, findStop, loadRoute, stopChip, tripChip } from "./route-view.js";

const FAIL_REASONS = ["site_closed", "no_access", "refused", "tank_full", "unsafe", "other"];
const PHOTO_MAX = 1024;

function reasonWords(error) {
  if (error.code === "receipt_refused" && error.reasons?.length) {
    return `${t("errors.receipt_refused")} ${error.reasons.map((r) => (has(`reasons.${r}`) ? t(`reasons.${r}`) : r)).join(" ")}`;
  }
  return errorText(error);
}

/** A photo as a JPEG data URL no larger than PHOTO_MAX px (the API takes up to 200 kB). */
async function photoDataUrl(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, PHOTO_MAX / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  for (const quality of [0.8, 0.6, 0.4]) {
    const url = canvas.toDataURL("image/jpeg", quality);
    if (url.length < 190_000) return url;
  }
  return canvas.toDataURL("image/jpeg", 0.3);
}

/** The camera panel: reads one code and hands it over; stops the camera when done or left. */
function receiptScanner(onCode) {
  const video = h("video", { class: "camera-video", muted: true, playsinline: true, "aria-label": t("driver.camera") });
  const message = h("p", { class: "camera-message", "aria-live": "polite" });
  const close = h("button", { type: "button", class: "btn btn-big" }, t("driver.scan_close"));
  const panel = h("div", { class: "scan-panel", hidden: true, id: "receipt-scanner" }, h("div", { class: "camera-frame" }, video), message, close);
  let scanner = null;
  function stop() {
    scanner?.stop();
    scanner = null;
    panel.hidden = true;
  }
  close.addEventListener("click", stop);
  async function start() {
    panel.hidden = false;
    message.textContent = t("rack.camera_starting");
    try {
      scanner = await startScanner(video, {
        onCode: (text) => {
          stop();
          onCode(text);
        },
      });
      panel.dataset.decoder = scanner.decoder;
      message.textContent = t("driver.scan_ready");
    } catch (error) {
      console.warn("camera unavailable:", error.name);
      const key = { NotAllowedError: "rack.camera_denied", DecoderMissing: "rack.decoder_missing" }[error.name];
      message.textContent = t(key || "rack.camera_none");
    }
  }
  return { panel, start, stop };
}

function deliverForm(stop, onDone) {
  const observed = h("input", { name: "delivered_litres_observed", type: "number", inputmode: "numeric", min: "1", required: true, value: String(stop.litres) });
  const temperature = h("input", { name: "temperature_c", type: "number", inputmode: "decimal", step: "0.1", min: "-50", max: "150", required: true });
  const meterStart = h("input", { name: "meter_start", type: "number", inputmode: "numeric", min: "0" });
  const meterEnd = h("input", { name: "meter_end", type: "number", inputmode: "numeric", min: "0" });
  const token = h("textarea", { name: "receipt_token", rows: 2, autocomplete: "off", spellcheck: "false", autocapitalize: "characters" });
  const receiptState = h("p", { class: "receipt-state", id: "receipt-state", "aria-live": "polite" }, t("driver.receipt_none"));
  const noReceipt = h("input", { type: "checkbox", name: "no_receipt", id: "no-receipt" });
  const noReceiptReason = h("input", { name: "no_receipt_reason", autocomplete: "off" });
  const photo = h("input", { name: "evidence", type: "file", accept: "image/*", capture: "environment" });
  const scanner = receiptScanner((text) => {
    token.value = text;
    showReceipt();
    submit.focus();
  });
  const scan = h("button", { type: "button", class: "btn btn-big btn-block", id: "scan-receipt" }, t("driver.scan_receipt"));
  scan.addEventListener("click", () => scanner.start());
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-big btn-block", id: "confirm-delivery" }, t("driver.confirm_delivery"));
  const noReceiptBox = h(
    "div",
    { class: "no-receipt", hidden: true },
    field("driver.no_receipt_reason", noReceiptReason),
    field("driver.evidence", photo, { hint: "driver.evidence_hint" }),
  );
  const typed = h("details", { class: "typed-code" }, h("summary", {}, t("driver.type_code")), field("driver.receipt_code", token));
  function showReceipt() {
    const ok = token.value.trim().length > 0;
    receiptState.textContent = t(ok ? "driver.receipt_read" : "driver.receipt_none");
    receiptState.className = `receipt-state ${ok ? "receipt-ok" : ""}`;
    receiptState.dataset.read = ok ? "1" : "";
  }
  token.addEventListener("input", showReceipt);
  noReceipt.addEventListener("change", () => {
    noReceiptBox.hidden = !noReceipt.checked;
    scan.hidden = noReceipt.checked;
    typed.hidden = noReceipt.checked;
  });
  const form = h(
    "form",
    { class: "card form deliver-form", novalidate: true, "aria-labelledby": "deliver-title" },
    h("h2", { id: "deliver-title" }, t("driver.deliver_title")),
    h("div", { class: "row" }, field("driver.observed", observed, { hint: "driver.observed_hint" }), field("rack.temperature", temperature)),
    h("div", { class: "row" }, field("driver.meter_start", meterStart), field("driver.meter_end", meterEnd)),
    h("h3", {}, t("driver.receipt_title")),
    receiptState,
    scan,
    scanner.panel,
    typed,
    h("div", { class: "check" }, noReceipt, h("label", { for: "no-receipt" }, t("driver.no_receipt"))),
    noReceiptBox,
    submit,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!checkRequired(form)) return;
    busy(form, async () => {
      const body = {
        delivered_litres_observed: Number.parseInt(observed.value, 10),
        temperature_c: Number.parseFloat(temperature.value),
      };
      if (meterStart.value !== "") body.meter_start = Number.parseInt(meterStart.value, 10);
      if (meterEnd.value !== "") body.meter_end = Number.parseInt(meterEnd.value, 10);
      if (noReceipt.checked) {
        body.no_receipt_reason = noReceiptReason.value.trim();
        if (photo.files[0]) body.evidence = await photoDataUrl(photo.files[0]);
      } else {
        const code = token.value.replace(/^[\r\n\t]+|[\r\n\t]+$/g, "");
        if (!code.trim()) {
          showError(form, { code: "receipt_missing", field: "receipt_token", status: 400, detail: "" });
          typed.open = true;
          return;
        }
        body.receipt_token = code;
      }
      try {
        const done = await api(`/stops/${stop.id}/deliver`, { method: "POST", body });
        banner(t("driver.delivered", { litres: number(done.net_litres ?? body.delivered_litres_observed) }), "ok");
        onDone();
      } catch (error) {
        if (error.field === "receipt_token") typed.open = true;
        showError(form, { ...error, detail: error.code === "receipt_refused" ? reasonWords(error) : error.detail, code: error.code === "receipt_refused" ? "receipt_refused_words" : error.code });
      }
    });
  });
  return { form, stopCamera: scanner.stop };
}

function failForm(stop, onDone) {
  const reason = h(
    "select",
    { name: "reason_code", required: true },
    h("option", { value: "" }, t("driver.fail_choose")),
    FAIL_REASONS.map((r) => h("option", { value: r }, t(`fail.${r}`))),
  );
  const more = h("input", { name: "reason_text", autocomplete: "off", maxlength: "400" });
  const form = h(
    "form",
    { class: "card form fail-form", novalidate: true, "aria-labelledby": "fail-title" },
    h("h2", { id: "fail-title" }, t("driver.fail_title")),
    field("driver.fail_reason", reason),
    field("driver.fail_more", more),
    h("button", { type: "submit", class: "btn btn-danger btn-big btn-block" }, t("driver.fail_confirm")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!checkRequired(form)) return;
    busy(form, async () => {
      const words = [t(`fail.${reason.value}`), more.value.trim()].filter(Boolean).join(": ");
      try {
        await api(`/stops/${stop.id}/fail`, { method: "POST", body: { reason: words } });
        banner(t("driver.failed"), "warn");
        onDone();
      } catch (error) {
        showError(form, error);
      }
    });
  });
  return form;
}

export async function stopView(main, [stopId], ctx) {
  setTitle("driver.stop_title");
  const date = dayOf(ctx);
  const back = h("a", { class: "btn btn-big", href: `/app/driver?date=${date}` }, t("driver.back_to_route"));
  let plan;
  try {
    plan = await loadRoute(date);
  } catch (error) {
    main.append(errorState(error), back);
    return undefined;
  }
  if (!ctx.isCurrent()) return undefined;
  const found = findStop(plan, stopId);
  if (!found) {
    main.append(h("h1", {}, t("driver.stop_title")), h("p", { class: "notice error" }, t("driver.stop_missing")), back);
    return undefined;
  }
  followRoute(plan);
  const { route, trip, stop } = found;
  const again = () => ctx.navigate(`/app/driver/stops/${stop.id}?date=${date}`, { replace: true });
  const toRoute = () => ctx.navigate(`/app/driver?date=${date}`);
  main.append(
    h("div", { class: "page-header" }, h("h1", {}, `${stop.sequence}. ${stop.site_name}`), stopChip(stop.status)),
    h(
      "section",
      { class: "card" },
      details([
        ["driver.address", stop.address],
        ["driver.customer", stop.customer_name],
        ["order.window", `${time(stop.window_start, TZ)}–${time(stop.window_end, TZ)}`],
        ["plan.eta", time(stop.planned_arrival, TZ)],
        ["order.product", await productLabel(stop.product_code)],
        ["driver.quantity", litres(stop.litres)],
        ["driver.compartments", stop.compartments.map((c) => t("driver.compartment", { n: c + 1 })).join(", ")],
        ["driver.reference", stop.order_reference],
        ["order.tanker", route.plate],
      ]),
      h("p", { class: "small" }, t("plan.trip_n", { n: trip.sequence }), " ", tripChip(trip.status)),
    ),
  );
  let cleanup = () => {};
  if (stop.status === "planned") {
    const arrive = h("button", { type: "button", class: "btn btn-primary btn-big btn-block", id: "arrive" }, t("driver.arrive"));
    const error = h("p", { class: "field-error", role: "alert" });
    arrive.addEventListener("click", async () => {
      if (arrive.getAttribute("aria-disabled")) return;
      arrive.setAttribute("aria-disabled", "true");
      try {
        await api(`/stops/${stop.id}/arrive`, { method: "POST" });
        banner(t("driver.arrived"), "ok");
        again();
      } catch (err) {
        arrive.removeAttribute("aria-disabled");
        error.textContent = errorText(err);
      }
    });
    main.append(h("div", { class: "card" }, arrive, error));
  }
  if (stop.status === "planned" || stop.status === "arrived") {
    const deliver = deliverForm(stop, toRoute);
    cleanup = deliver.stopCamera;
    main.append(deliver.form, failForm(stop, toRoute));
  }
  main.append(h("div", { class: "actions" }, back));
  return () => cleanup();
}
