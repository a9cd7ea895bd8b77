// The pickup QR code full-screen: black on white, as large as the screen allows, the booking under it.
import { api } from "../core/api.js";
import { h } from "../core/dom.js";
import { t } from "../core/i18n.js";
import { setTitle } from "../core/shell.js";
import { errorState } from "../core/ui.js";
import { bookingDetails } from "./pickup-page.js";
import { qrElement } from "../core/qr.js";

export { qrElement };

async function keepScreenOn() {
  try {
    return await navigator.wakeLock?.request("screen");
  } catch {
    return null; // not allowed (battery saver, no user gesture): the code still shows
  }
}

export async function pickupQrView(main, [id], ctx) {
  setTitle("pickup.qr_title");
  document.body.classList.add("qr-mode");
  const leave = () => document.body.classList.remove("qr-mode");
  let booking;
  let svgText;
  try {
    [booking, svgText] = await Promise.all([api(`/pickups/${id}`), api(`/pickups/${id}/qr.svg`, { as: "text" })]);
  } catch (error) {
    main.append(
      errorState(error),
      h("a", { class: "btn", href: `/app/customer/pickups/${id}` }, t("common.back")),
    );
    return leave;
  }
  if (!ctx.isCurrent()) return leave;
  const figure = h(
    "figure",
    { class: "qr-figure" },
    h("div", { class: "qr-code", id: "pickup-qr" }, qrElement(svgText, t("pickup.qr_alt", { reference: booking.reference }))),
    h("figcaption", {}, h("strong", { class: "qr-reference" }, booking.reference), h("span", {}, booking.vehicle_plate)),
  );
  const fullscreen = h("button", { type: "button", class: "btn" }, t("pickup.fullscreen"));
  fullscreen.hidden = !document.fullscreenEnabled;
  fullscreen.addEventListener("click", () => figure.requestFullscreen?.().catch(() => {}));
  main.append(
    h("h1", { class: "visually-hidden" }, t("pickup.qr_title")),
    figure,
    h("p", { class: "qr-hint" }, t("pickup.qr_hint")),
    h("section", { class: "card qr-details" }, await bookingDetails(booking)),
    h(
      "div",
      { class: "actions" },
      h("a", { class: "btn", href: `/app/customer/pickups/${id}` }, t("common.back")),
      fullscreen,
    ),
  );
  const lock = await keepScreenOn();
  return () => {
    leave();
    lock?.release().catch(() => {});
  };
}
