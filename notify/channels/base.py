"""What every channel takes and answers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One claimed notification, as a channel sends it."""

    id: uuid.UUID
    attempt: int  # from 1
    kind: str
    language: str
    address: str  # email address, phone number, or WeChat openid
    title: str
    body: str
    link: str | None
    params: dict[str, Any]  # {"fields": [...], "values": {...}}: a provider template's values in order

    def ordered_values(self) -> list[str]:
        values = self.params.get("values", {})
        return [str(values.get(name, "")) for name in self.params.get("fields", [])]


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    error: str | None = None
    provider_message_id: str | None = None
    permanent: bool = False  # retrying cannot help (e.g. the address was refused)


class Channel(Protocol):
    async def send_many(self, messages: Sequence[Outgoing]) -> list[Outcome]:
        """One outcome per message, in order; never raises for a message that could not be sent."""
        ...


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:300]
