"""How amounts and quantities are written on documents: yuan from fen, litres, rates, and the amount in Chinese
capital numerals (大写) printed beside the total of a fapiao."""

from __future__ import annotations

from decimal import Decimal

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_PLACES = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿", "万亿")


def yuan(minor: int) -> str:
    """12345678 -> '123,456.78'; negative amounts keep their sign."""
    sign = "-" if minor < 0 else ""
    whole, fen = divmod(abs(minor), 100)
    return f"{sign}{whole:,}.{fen:02d}"


def yuan_decimal(minor: int) -> Decimal:
    """Exact yuan for spreadsheets and exports (never a float: 0.1 + 0.2 stays 0.3)."""
    return Decimal(minor).scaleb(-2)


def litres(value: int) -> str:
    return f"{value:,}"


def rate(bps: int) -> str:
    """1300 -> '13%'; 950 -> '9.5%'."""
    return f"{Decimal(bps).scaleb(-2).normalize():f}%"


def _group_in_words(value: int) -> str:
    """0 < value < 10,000 in capitals; inner runs of zeros become one 零, trailing zeros vanish."""
    text, pending_zero = "", False
    for place in range(3, -1, -1):
        digit = value // 10**place % 10
        if digit == 0:
            pending_zero = bool(text)
            continue
        if pending_zero:
            text += _DIGITS[0]
            pending_zero = False
        text += _DIGITS[digit] + _PLACES[place]
    return text


def _yuan_in_words(whole: int) -> str:
    groups = []
    while whole:
        whole, group = divmod(whole, 10_000)
        groups.append(group)
    text = ""
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            continue
        if text and group < 1000:
            text += _DIGITS[0]  # 壹万零伍佰: a gap before this group is read as 零
        text += _group_in_words(group) + _GROUPS[index]
    return text


def amount_in_words(minor: int) -> str:
    """The amount as written on a Chinese invoice: 1234.50 -> 壹仟贰佰叁拾肆元伍角, 100 -> 壹佰元整."""
    if abs(minor) >= 10**18:
        raise ValueError("amount too large to write in words")
    sign = "负" if minor < 0 else ""
    whole, fen_total = divmod(abs(minor), 100)
    jiao, fen = divmod(fen_total, 10)
    text = _yuan_in_words(whole)
    if text or not fen_total:
        text = (text or _DIGITS[0]) + "元"
    if not fen_total:
        return sign + text + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif whole:
        text += _DIGITS[0]  # 壹佰元零伍分
    if fen:
        text += _DIGITS[fen] + "分"
    return sign + text


# Ledger kinds as statements show them (Chinese, then English).
KIND_LABELS = {
    "charge": "货款 Charge",
    "payment": "付款 Payment",
    "prepayment": "预付款 Prepayment",
    "credit_note": "红字冲销 Credit note",
    "adjustment": "调整 Adjustment",
    "refund": "退款 Refund",
}
