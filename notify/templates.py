"""What each kind of notification says, in Chinese and in English: a title, a text, and the ordered values an SMS
or WeChat template takes. Pure: no I/O.

Every text is a `str.format` template over the kind's named values (`Fact.values`); the values are formatted
for people before (money with its currency, times in the customer's time zone), so the two languages share them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"

# The kinds a user can choose (`events` of PUT /me/notification-settings), in the order the settings page shows them.
KINDS = (
    "order_confirmed",
    "order_on_hold",
    "order_scheduled",
    "order_delayed",
    "order_delivered",
    "order_failed",
    "pickup_code_issued",
    "invoice_issued",
    "payment_received",
    "credit_nearly_used",
    "daily_price",
    "order_rejected",
)
# Kinds that ask someone to act: sent whatever the events chosen (an approver's settings saved before approvals
# existed would otherwise leave orders waiting unseen). Who hears of them at all is notify.recipients'.
ALWAYS = ("approval_requested", "standing_order_refused")


@dataclass(frozen=True, slots=True)
class Template:
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Texts:
    """One kind in every language, and the names of its values in the order SMS and WeChat templates take them."""

    zh: Template
    en: Template
    fields: tuple[str, ...]


TEXTS: dict[str, Texts] = {
    "order_confirmed": Texts(
        zh=Template(
            "订单 {reference} 已确认",
            "您的订单 {reference}（{product} {litres} 升，{date} {window}）已确认，金额 {amount}。",
        ),
        en=Template(
            "Order {reference} confirmed",
            "Your order {reference} ({litres} L of {product}, {date} {window}) is confirmed: {amount}.",
        ),
        fields=("reference", "date", "window", "amount"),
    ),
    "order_on_hold": Texts(
        zh=Template("订单 {reference} 暂缓处理", "您的订单 {reference} 暂缓处理：{reason}。"),
        en=Template("Order {reference} on hold", "Your order {reference} is on hold: {reason}."),
        fields=("reference", "reason"),
    ),
    "order_scheduled": Texts(
        zh=Template(
            "订单 {reference} 已排车",
            "您的订单 {reference} 已安排车辆 {tanker}，预计 {eta} 到达。",
        ),
        en=Template(
            "Order {reference} scheduled",
            "Your order {reference} is on tanker {tanker}, expected at {eta}.",
        ),
        fields=("reference", "tanker", "eta"),
    ),
    "order_delayed": Texts(
        zh=Template(
            "订单 {reference} 将延迟",
            "油车将晚于您的收货时段到达：预计 {eta}（时段至 {window_end}）。",
        ),
        en=Template(
            "Order {reference} delayed",
            "The tanker will arrive after your window: now expected at {eta} (the window ends at {window_end}).",
        ),
        fields=("reference", "eta", "window_end"),
    ),
    "order_delivered": Texts(
        zh=Template("订单 {reference} 已送达", "您的订单 {reference} 已送达 {litres} 升，金额 {amount}。"),
        en=Template("Order {reference} delivered", "{litres} L delivered for order {reference}: {amount}."),
        fields=("reference", "litres", "amount"),
    ),
    "order_failed": Texts(
        zh=Template("订单 {reference} 未能送达", "您的订单 {reference} 未能送达：{reason}。我们会与您联系。"),
        en=Template(
            "Order {reference} not delivered",
            "Your order {reference} could not be delivered: {reason}. We will be in touch.",
        ),
        fields=("reference", "reason"),
    ),
    "pickup_code_issued": Texts(
        zh=Template(
            "自提 {reference} 的提货码",
            "您在 {depot} 的自提 {reference}（{slot}）的提货码已生成：打开链接，在油库出示。",
        ),
        en=Template(
            "Pickup {reference}: your code",
            "The pickup code of {reference} at {depot} ({slot}) is ready: open the link and show it at the gate.",
        ),
        fields=("reference", "depot", "slot"),
    ),
    "invoice_issued": Texts(
        zh=Template("发票 {number} 已开具", "发票 {number}：{amount}，请于 {due_date} 前付款。"),
        en=Template("Invoice {number} issued", "Invoice {number}: {amount}, due on {due_date}."),
        fields=("number", "amount", "due_date"),
    ),
    "payment_received": Texts(
        zh=Template("已收到付款 {amount}", "我们已于 {received_on} 收到您的付款 {amount}，谢谢。"),
        en=Template(
            "Payment of {amount} received", "We received your payment of {amount} on {received_on}. Thank you."
        ),
        fields=("amount", "received_on"),
    ),
    "credit_nearly_used": Texts(
        zh=Template(
            "信用额度即将用完",
            "您的可用额度为 {available}（额度 {limit} 的 {percent}%）。付款后额度即恢复。",
        ),
        en=Template(
            "Credit nearly used",
            "Your available credit is {available} ({percent}% of your {limit} limit). Payments free it again.",
        ),
        fields=("available", "limit", "percent"),
    ),
    "daily_price": Texts(
        zh=Template(
            "{date} 起 {product} 价格",
            "{depot} {product} {date} 起您的价格：{per_tonne}/吨，{per_litre}/升。再订一单（同上次）：{link}",
        ),
        en=Template(
            "{product} price from {date}",
            "Your price for {product} at {depot} from {date}: {per_tonne}/t, {per_litre}/L. "
            "The same as last time, in one tap: {link}",
        ),
        fields=("product", "date", "per_tonne", "per_litre"),
    ),
}

TEXTS.update(
    {
        "approval_requested": Texts(
            zh=Template(
                "订单 {reference} 待您审批",
                "订单 {reference}（{product} {litres} 升，{date} {window}，金额 {amount}）超出下单人的审批额度，"
                "请审批或驳回。",
            ),
            en=Template(
                "Order {reference} awaits your approval",
                "Order {reference} ({litres} L of {product}, {date} {window}, {amount}) is above its orderer's "
                "approval limit: approve or reject it.",
            ),
            fields=("reference", "date", "amount"),
        ),
        "order_rejected": Texts(
            zh=Template("订单 {reference} 未获批准", "订单 {reference} 未获批准，已取消：{reason}。"),
            en=Template("Order {reference} rejected", "Order {reference} was not approved and is cancelled: {reason}."),
            fields=("reference", "reason"),
        ),
        "standing_order_refused": Texts(
            zh=Template(
                "定期订单未能下单（{date}）",
                "{site} 的定期订单（{product} {litres} 升，{date}）未能下单：{reason}。请手动下单或修改定期订单。",
            ),
            en=Template(
                "Standing order not placed for {date}",
                "The standing order for {site} ({litres} L of {product}, {date}) could not be placed: {reason}. "
                "Order by hand or change the standing order.",
            ),
            fields=("site", "date", "reason"),
        ),
        # To the truck's driver, not to the account's people: not a kind anyone chooses (notify.facts.pass_facts).
        "pickup_pass": Texts(
            zh=Template(
                "自提 {reference} 提货通行证",
                "{depot} 自提 {reference}（车牌 {plate}，{slot}）：打开链接，在油库门口扫码签到并出示提货码：{link}",
            ),
            en=Template(
                "Pickup pass {reference}",
                "Pickup {reference} at {depot} (truck {plate}, {slot}): open the link to check in at the gate "
                "and show the pickup code: {link}",
            ),
            fields=("reference", "plate", "slot", "link"),
        ),
    }
)

# Reasons recorded in English by the system, as customers read them.
REASONS: dict[str, dict[str, str]] = {
    "credit_limit": {
        "zh-CN": "订单金额超出可用信用额度，付款后将自动确认",
        "en": "it would take the account over its credit limit; it is confirmed once a payment frees credit",
    },
    "approval_limit": {
        "zh-CN": "订单金额超出下单人的审批额度，等待审批",
        "en": "it is above its orderer's approval limit and waits for an approver",
    },
}


@dataclass(frozen=True, slots=True)
class Rendered:
    title: str
    body: str
    params: dict[str, object]  # {"fields": [...], "values": {...}} for SMS and WeChat templates


class _Values(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "-"  # a value the event did not carry: shown as a dash, never a crash


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def reason_text(reason: str | None, language: str) -> str:
    """A known reason code (`credit_limit: ...` or `credit_limit`) in the reader's language; other reasons as
    they were written."""
    if not reason:
        return "-"
    code = reason.split(":", 1)[0].strip()
    known = REASONS.get(code)
    return known[language] if known else reason


def render(kind: str, language: str, values: Mapping[str, str]) -> Rendered:
    texts = TEXTS[kind]
    chinese = language_of(language) == "zh-CN"
    template = texts.zh if chinese else texts.en
    filled = _Values({k: v for k, v in values.items() if not k.endswith("_zh")})
    if chinese:  # `product_zh` stands for `product` in Chinese
        filled.update({k.removesuffix("_zh"): v for k, v in values.items() if k.endswith("_zh")})
    if "reason" in values:
        filled["reason"] = reason_text(values["reason"], language_of(language))
    return Rendered(
        title=template.title.format_map(filled)[:200],
        body=template.body.format_map(filled),
        params={"fields": list(texts.fields), "values": {name: filled[name] for name in texts.fields}},
    )
