// Visits of account managers: the manager scans the signed code printed at a customer's site with the device's
// camera (or types it), POST /visits records the visit, and the page says whose site it was and whether the
// customer was quiet (a visit to win it back). The list of visits shows each one's outcome (GET /visits).
import { api } from "../core/api.js";
import { dateTime, day, h } from "../core/dom.js";
import { clearErrors, errorText, field, showError } from "../core/forms.js";
import { has, t } from "../core/i18n.js";
import { setTitle } from "../core/shell.js";
import { pageHeader } from "../core/ui.js";
import { startScanner } from "../scan/scanner.js";
import { BASE, customerLink } from "./kit.js";

/** A visit's outcome as a chip: won back, waiting (within 60 days) or not won back; nothing when not quiet. */
export function outcomeChip(outcome) {
  if (!outcome) return "";
  const kind = { won_back: "chip-ok", pending: "chip-warn", not_won_back: "chip-bad" }[outcome] || "";
  const key = `office.outcome_${outcome}`;
  return h("span", { class: `chip ${kind}`, dataset: { outcome } }, has(key) ? t(key) : outcome);
}

function reasonsOf(error) {
  const reasons = (error.reasons || []).filter(Boolean);
  if (!reasons.length) return null;
  return h(
    "ul",
    { class: "reasons" },
    reasons.map((r) => h("li", { dataset: { reason: r } }, has(`reasons.${r}`) ? t(`reasons.${r}`) : String(r))),
  );
}

function visitCard(visit, again) {
  return h(
    "section",
    { class: "card visit-result", dataset: { visit: visit.id, again: again ? "true" : "false" }, tabindex: "-1" },
    h("h2", {}, t(again ? "office.visit_already" : "office.visit_recorded")),
    h(
      "dl",
      { class: "details" },
      h("dt", {}, t("office.customer")),
      h("dd", {}, customerLink(visit.customer_id, visit.customer_name)),
      h("dt", {}, t("office.site_name")),
      h("dd", { class: "visit-site" }, visit.site_name),
      h("dt", {}, t("office.when")),
      h("dd", {}, dateTime(visit.at)),
      visit.note ? [h("dt", {}, t("office.note")), h("dd", {}, visit.note)] : null,
    ),
    visit.dormant_since
      ? h(
          "p",
          { class: "notice warn quiet-visit" },
          t("office.visit_quiet", { since: day(String(visit.dormant_since).slice(0, 10)) }),
          " ",
          outcomeChip(visit.outcome),
        )
      : h("p", { class: "muted" }, t("office.visit_not_quiet")),
    h("a", { class: "btn btn-small", href: `${BASE}/insight/visits` }, t("office.insight_visits")),
  );
}

export async function visitScanView(main, _params, ctx) {
  setTitle("office.record_visit");
  main.append(pageHeader("office.record_visit"));
  const video = h("video", { class: "camera-video", muted: true, playsinline: true, "aria-label": t("office.camera") });
  const cameraMessage = h("p", { class: "camera-message", "aria-live": "polite" }, t("office.camera_starting"));
  const cameraButton = h("button", { type: "button", class: "btn", hidden: true }, t("office.camera_start"));
  const token = h("textarea", { name: "token", rows: 3, autocomplete: "off", autocapitalize: "characters", spellcheck: "false" });
  const note = h("textarea", { name: "note", rows: 2, maxlength: 2000 });
  const form = h(
    "form",
    { class: "card form visit-form", novalidate: true },
    h("h2", {}, t("office.visit_typed")),
    field("office.visit_code", token, { hint: "office.visit_code_hint" }),
    field("office.visit_note", note),
    h("button", { type: "submit", class: "btn" }, t("office.record_visit")),
  );
  const result = h("div", { class: "visit-outcome", "aria-live": "polite" });
  main.append(
    h(
      "div",
      { class: "columns visit-layout" },
      h(
        "div",
        {},
        h("section", { class: "card camera", "aria-label": t("office.camera") }, h("div", { class: "camera-frame" }, video), cameraMessage, cameraButton),
      ),
      h("div", {}, form, result),
    ),
  );

  let scanner = null;
  let busy = false;
  const seen = new Set();
  const opened = Date.now() - 5000; // a little slack for the server's clock

  async function record(code) {
    if (busy) return;
    busy = true;
    scanner?.pause();
    clearErrors(form);
    result.replaceChildren(h("p", { class: "placeholder" }, t("office.visit_checking")));
    try {
      const body = { token: code };
      if (note.value.trim()) body.note = note.value.trim();
      const visit = await api("/visits", { method: "POST", body });
      // A second scan the same day answers the first visit: one shown already, or recorded before this page.
      const again = seen.has(visit.id) || new Date(visit.at).getTime() < opened;
      seen.add(visit.id);
      const shown = visitCard(visit, again);
      result.replaceChildren(shown);
      shown.focus();
      token.value = "";
    } catch (error) {
      result.replaceChildren(
        h("div", { class: "notice error visit-refused", role: "alert", dataset: { code: error.code || "" } }, h("p", {}, errorText(error)), reasonsOf(error)),
      );
      if (error.field === "token" && token.value) showError(form, error);
      setTimeout(() => scanner?.resume(), 3000);
    } finally {
      busy = false;
    }
  }


  form.addEventListener("submit", (event) => {
    event.preventDefault();
    // Spaces are Base45 characters: only line breaks and tabs around the code go.
    const code = token.value.replace(/^[\r\n\t]+|[\r\n\t]+$/g, "");
    if (!code.trim()) {
      showError(form, { code: "required", field: "token", status: 400, detail: "" });
      return;
    }
    record(code);
  });

  async function startCamera() {
    cameraButton.hidden = true;
    cameraMessage.textContent = t("office.camera_starting");
    try {
      scanner = await startScanner(video, { onCode: (text) => record(text), repeatAfterMs: 60_000 });
      if (!ctx.isCurrent()) {
        scanner.stop();
        return;
      }
      cameraMessage.textContent = t("office.camera_ready");
      main.dataset.decoder = scanner.decoder;
    } catch (error) {
      console.warn("camera unavailable:", error.name);
      const key = { NotAllowedError: "office.camera_denied", DecoderMissing: "office.decoder_missing" }[error.name];
      cameraMessage.textContent = t(key || "office.camera_none");
      cameraButton.hidden = false;
    }
  }
  cameraButton.addEventListener("click", startCamera);
  startCamera();
  return () => scanner?.stop();
}
