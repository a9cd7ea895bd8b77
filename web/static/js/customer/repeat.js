// "Same again" on an order's page: the same site, product, quantity, window, driver and note for another day
// (POST /orders/{id}/repeat). One Idempotency-Key per attempt: a retry of the same day after a failure reuses it (a
// lost answer never makes two orders); a new day, or a new attempt after an order was placed, takes a new one.
// Refusals (the day, the cut-off, the tank, the credit, the role) appear next to the day.
import { api } from "../core/api.js";
import { h, isoDay } from "../core/dom.js";
import { IdempotencyKeys, busy, checkRequired, clearErrors, field, showError } from "../core/forms.js";
import { t } from "../core/i18n.js";
import { banner } from "../core/shell.js";

export function sameAgainCard(orderId, ctx) {
  const date = h("input", { name: "delivery_date", type: "date", required: true, min: isoDay(0), value: isoDay(1) });
  const form = h(
    "form",
    { class: "card form", novalidate: true, id: "same-again", "aria-labelledby": "same-again-title" },
    h("h2", { id: "same-again-title" }, t("repeat.title")),
    h("p", { class: "hint" }, t("repeat.hint")),
    field("order.date", date),
    h("button", { type: "submit", class: "btn btn-primary btn-block" }, t("repeat.submit")),
  );
  let keys = new IdempotencyKeys();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!checkRequired(form)) return;
    busy(form, async () => {
      clearErrors(form);
      const body = { delivery_date: date.value };
      try {
        const order = await api(`/orders/${orderId}/repeat`, {
          method: "POST",
          body,
          headers: { "Idempotency-Key": keys.keyFor(body) },
        });
        keys = new IdempotencyKeys();
        banner(t("order.placed", { reference: order.reference }), "ok");
        ctx.navigate(`orders/${order.id}`);
      } catch (error) {
        showError(form, error);
      }
    });
  });
  return form;
}
