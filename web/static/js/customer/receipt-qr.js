// The order's receipt QR code full-screen: the driver scans it on delivery as proof of delivery.
import { api } from "../core/api.js";
import { h } from "../core/dom.js";
import { t } from "../core/i18n.js";
import { setTitle } from "../core/shell.js";
import { errorState } from "../core/ui.js";
import { qrElement } from "./pickup-qr.js";

export async function receiptQrView(main, [id], ctx) {
  setTitle("receipt.title");
  document.body.classList.add("qr-mode");
  const leave = () => document.body.classList.remove("qr-mode");
  const back = h("a", { class: "btn", href: `/app/customer/orders/${id}` }, t("common.back"));
  try {
    const [order, svgText] = await Promise.all([
      api(`/orders/${id}`),
      api(`/orders/${id}/receipt-code.svg`, { as: "text" }),
    ]);
    if (!ctx.isCurrent()) return leave;
    main.append(
      h("h1", { class: "visually-hidden" }, t("receipt.title")),
      h(
        "figure",
        { class: "qr-figure" },
        h("div", { class: "qr-code", id: "receipt-qr" }, qrElement(svgText, t("receipt.alt", { reference: order.reference }))),
        h("figcaption", {}, h("strong", { class: "qr-reference" }, order.reference)),
      ),
      h("p", { class: "qr-hint" }, t("receipt.hint")),
      h("div", { class: "actions" }, back),
    );
  } catch (error) {
    main.append(errorState(error), back);
  }
  return leave;
}
