// Which depot this rack stands at: one of the operator's own (GET /rack/depots), remembered on the device. An
// operator with a single depot is never asked.
import { h } from "../core/dom.js";
import { field, select } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { banner, setTitle } from "../core/shell.js";
import { errorState, pageHeader } from "../core/ui.js";
import { depot, depotAmong, myDepots } from "./store.js";

export async function depotView(main, _params, ctx) {
  setTitle("rack.depot_title");
  main.append(pageHeader("rack.depot_title"));
  let depots;
  try {
    depots = await myDepots();
  } catch (error) {
    main.append(errorState(error));
    return;
  }
  if (!ctx.isCurrent()) return;
  if (!depots.length) {
    depot.clear();
    main.append(h("p", { class: "notice warn", id: "no-depots", role: "alert" }, t("rack.no_depots")));
    return;
  }
  if (depots.length === 1) {
    depotAmong(depots);
    ctx.navigate("/app/rack", { replace: true });
    return;
  }
  const choice = select(
    "depot_id",
    depots.map((d) => ({ value: d.id, label: d.name })),
    { value: depot.get()?.id },
  );
  const form = h(
    "form",
    { class: "card form narrow" },
    h("p", {}, t("rack.depot_lead")),
    field("rack.depot", choice),
    h("button", { type: "submit", class: "btn btn-primary btn-block" }, t("rack.depot_save")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = depots.find((d) => d.id === choice.value);
    depot.set(chosen);
    banner(t("rack.depot_saved", { name: chosen.name }), "ok");
    ctx.navigate("/app/rack");
  });
  main.append(form);
}
