// The fields of a delivery site, shared by the customer's site form and the public sign-up form: name, address
// (with an address search when the server has a geocoder), a pin on the map with its latitude and longitude, the
// tank and the receiving hours. Each field has its error slot, named as the API names the field.
import { api } from "../core/api.js";
import { h, uid } from "../core/dom.js";
import { errorText, field } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { createPinPicker } from "../map/pin-picker.js";

const DEFAULT_HOURS = [{ days: [1, 2, 3, 4, 5, 6], open: "07:00", close: "18:00" }];

function halfHours(from, to) {
  const out = [];
  for (let m = from; m <= to; m += 30) out.push(`${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`);
  return out;
}

function timeSelect(name, value, times, labelKey) {
  return h(
    "select",
    { name, "aria-label": t(labelKey) },
    times.map((time) => h("option", { value: time, selected: time === value }, time)),
  );
}

/** One row of receiving hours: the days it applies to and the hours. */
function hoursRow(entry, onRemove) {
  const group = uid("days");
  const days = [1, 2, 3, 4, 5, 6, 7].map((d) => {
    const id = `${group}-${d}`;
    return h(
      "span",
      { class: "day-toggle" },
      h("input", { type: "checkbox", id, value: String(d), checked: entry.days.includes(d), name: `${group}` }),
      h("label", { for: id }, t(`weekday.${d}`)),
    );
  });
  const open = timeSelect(`${group}-open`, entry.open, halfHours(0, 23 * 60 + 30), "site.opens");
  const close = timeSelect(`${group}-close`, entry.close, halfHours(30, 24 * 60), "site.closes");
  const remove = h("button", { type: "button", class: "btn btn-small", "aria-label": t("site.remove_hours") }, "×");
  const row = h(
    "fieldset",
    { class: "hours-row" },
    h("legend", { class: "visually-hidden" }, t("site.hours")),
    h("div", { class: "day-toggles" }, days),
    h("div", { class: "hours-times" }, open, h("span", { "aria-hidden": "true" }, "–"), close, remove),
  );
  remove.addEventListener("click", () => onRemove(row));
  row.entry = () => ({
    days: [...row.querySelectorAll("input[type=checkbox]:checked")].map((c) => Number(c.value)),
    open: open.value,
    close: close.value,
  });
  return row;
}

function hoursEditor(hours) {
  const rows = h("div", { class: "hours-rows" });
  const add = h("button", { type: "button", class: "btn btn-small" }, t("site.add_hours"));
  const remove = (row) => {
    if (rows.children.length > 1) row.remove();
  };
  for (const entry of hours.length ? hours : DEFAULT_HOURS) rows.append(hoursRow(entry, remove));
  add.addEventListener("click", () => rows.append(hoursRow({ days: [7], open: "08:00", close: "12:00" }, remove)));
  const element = h(
    "div",
    { class: "field" },
    h("p", { class: "field-label", id: uid("hours") }, t("site.hours")),
    rows,
    add,
    h("p", { class: "field-error", dataset: { errorFor: "receiving_hours" } }),
  );
  return {
    element,
    value: () => [...rows.children].map((row) => row.entry()).filter((entry) => entry.days.length),
  };
}

/** The address search: shown only when the server has a geocoder (GET /geocode/status). */
function addressSearch(onPick) {
  const query = h("input", { type: "search", name: "address_search", autocomplete: "off", enterkeyhint: "search" });
  const go = h("button", { type: "button", class: "btn" }, t("site.search"));
  const results = h("ul", { class: "geocode-results", "aria-live": "polite" });
  const box = h(
    "div",
    { class: "field address-search" },
    h("label", { for: query.id || (query.id = uid("search")) }, t("site.search_label")),
    h("div", { class: "search-row" }, query, go),
    results,
  );
  async function search() {
    const q = query.value.trim();
    if (q.length < 2) return;
    results.replaceChildren(h("li", { class: "muted" }, t("common.loading")));
    try {
      const found = await api(`/geocode?q=${encodeURIComponent(q)}&lang=${document.documentElement.lang}`);
      results.replaceChildren(
        ...(found.length
          ? found.map((place) =>
              h(
                "li",
                {},
                h(
                  "button",
                  {
                    type: "button",
                    class: "geocode-result",
                    onclick: () => {
                      results.replaceChildren();
                      onPick(place);
                    },
                  },
                  place.address,
                ),
              ),
            )
          : [h("li", { class: "muted" }, t("site.search_none"))]),
      );
    } catch (error) {
      results.replaceChildren(h("li", { class: "field-error" }, errorText(error)));
    }
  }
  go.addEventListener("click", search);
  query.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      search();
    }
  });
  return box;
}

/**
 * The site's fields. site: the site being edited (or null); depots: landmarks on the map; geocoder: whether to
 * offer the address search. Returns {element, body()}: body() is the site as POST/PUT /sites take it.
 */
export function siteFields({ site = null, depots = [], geocoder = false } = {}) {
  const name = h("input", { name: "name", required: true, maxlength: 200, value: site?.name || "", autocomplete: "off" });
  const address = h("input", { name: "address", required: true, maxlength: 300, value: site?.address || "", autocomplete: "street-address" });
  const lat = h("input", { name: "lat", type: "number", inputmode: "decimal", step: "any", min: "-90", max: "90", required: true, value: site?.lat ?? "" });
  const lon = h("input", { name: "lon", type: "number", inputmode: "decimal", step: "any", min: "-180", max: "180", required: true, value: site?.lon ?? "" });
  const tank = h("input", {
    name: "tank_capacity_litres",
    type: "number",
    inputmode: "numeric",
    min: "100",
    step: "1",
    required: true,
    value: site?.tank_capacity_litres ?? "",
  });
  const picker = createPinPicker({
    lat: site?.lat ?? null,
    lon: site?.lon ?? null,
    depots: depots.map((d) => ({ lat: d.lat, lon: d.lon, name: d.name })),
    onChange: (pin) => {
      lat.value = String(pin.lat);
      lon.value = String(pin.lon);
    },
  });
  const typed = () => picker.set(Number.parseFloat(lat.value), Number.parseFloat(lon.value), { centreOn: true });
  lat.addEventListener("change", typed);
  lon.addEventListener("change", typed);
  const hours = hoursEditor(site?.receiving_hours || []);
  const search = geocoder
    ? addressSearch((place) => {
        address.value = place.address;
        lat.value = String(place.lat);
        lon.value = String(place.lon);
        typed();
      })
    : null;

  const element = h(
    "div",
    { class: "site-fields" },
    field("site.name", name),
    search,
    field("site.address", address),
    h(
      "div",
      { class: "field" },
      h("p", { class: "field-label" }, t("site.pin")),
      picker.element,
      h("div", { class: "row" }, field("site.lat", lat), field("site.lon", lon)),
    ),
    field("site.tank_litres", tank, { hint: "site.tank_hint" }),
    hours.element,
  );
  return {
    element,
    picker,
    body() {
      const body = {
        name: name.value.trim(),
        address: address.value.trim(),
        lat: Number.parseFloat(lat.value),
        lon: Number.parseFloat(lon.value),
        tank_capacity_litres: Number.parseInt(tank.value, 10),
        receiving_hours: hours.value(),
      };
      if (site?.max_vehicle_class != null) body.max_vehicle_class = site.max_vehicle_class;
      if (site?.timezone) body.timezone = site.timezone;
      return body;
    },
  };
}
