// The trip's load code full-screen, for the rack operator's camera.
import { api } from "../core/api.js";
import { depotById } from "../core/catalogue.js";
import { h, time } from "../core/dom.js";
import { t } from "../core/i18n.js";
import { qrElement } from "../core/qr.js";
import { setTitle } from "../core/shell.js";
import { errorState } from "../core/ui.js";
import { TZ, dayOf, loadRoute } from "./route-view.js";

export async function codeView(main, [tripId], ctx) {
  setTitle("driver.load_code_title");
  document.body.classList.add("qr-mode");
  const leave = () => document.body.classList.remove("qr-mode");
  const date = dayOf(ctx);
  const back = h("a", { class: "btn btn-big", href: `/app/driver?date=${date}` }, t("common.back"));
  try {
    const [svgText, plan] = await Promise.all([api(`/driver/trips/${tripId}/qr.svg`, { as: "text" }), loadRoute(date)]);
    if (!ctx.isCurrent()) return leave;
    let trip = null;
    let plate = "";
    for (const route of plan?.routes || []) {
      const found = route.trips.find((tr) => tr.id === tripId);
      if (found) [trip, plate] = [found, route.plate];
    }
    const depot = trip ? await depotById(trip.depot_id) : null;
    main.append(
      h("h1", { class: "visually-hidden" }, t("driver.load_code_title")),
      h(
        "figure",
        { class: "qr-figure" },
        h("div", { class: "qr-code", id: "load-qr" }, qrElement(svgText, t("driver.load_code_alt", { plate }))),
        h(
          "figcaption",
          {},
          h("strong", { class: "qr-reference" }, plate),
          trip ? h("span", {}, `${t("plan.trip_n", { n: trip.sequence })} · ${depot?.name || ""} · ${time(trip.load_start, TZ)}`) : null,
        ),
      ),
      h("p", { class: "qr-hint" }, t("driver.load_code_hint")),
      h("div", { class: "actions" }, back),
    );
  } catch (error) {
    main.append(errorState(error), back);
  }
  return leave;
}
