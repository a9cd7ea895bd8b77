"""Shared request/response building blocks (msgspec)."""

from __future__ import annotations

from typing import Annotated, TypeVar

import msgspec

Lat = Annotated[float, msgspec.Meta(ge=-90, le=90, description="WGS84 latitude", examples=[31.2304])]
Lon = Annotated[float, msgspec.Meta(ge=-180, le=180, description="WGS84 longitude", examples=[121.4737])]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
LongText = Annotated[str, msgspec.Meta(max_length=2000)]
Litres = Annotated[int, msgspec.Meta(gt=0, le=1_000_000, description="litres at the standard temperature")]
Kilograms = Annotated[int, msgspec.Meta(gt=0, le=1_000_000)]
MinorAmount = Annotated[
    int, msgspec.Meta(ge=0, le=10**13, description="money in minor units (fen)", examples=[500_000_00])
]
# Every list is paged: at most MAX_PAGE_SIZE items a page, and no deeper than MAX_OFFSET (the database reads and
# drops every row before the offset, so an unbounded one is a slow query anyone with a login could ask for).
MAX_PAGE_SIZE = 500
MAX_OFFSET = 100_000
Limit = Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE_SIZE)]
Offset = Annotated[int, msgspec.Meta(ge=0, le=MAX_OFFSET)]


T = TypeVar("T")


class Page[T](msgspec.Struct):
    items: list[T]
    total: int
    limit: int
    offset: int


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details with a stable `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None
    errors: list[dict[str, str]] | None = None
    reasons: list[str] | None = None
    job_id: str | None = None  # the planning job a request conflicts with
    user_id: str | None = None  # the user a request would have made again (`person_exists`)
