"""Every error leaves as RFC 9457 problem details with a stable `code`; nothing leaks as a bare 500."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.openapi import ResponseSpec
from sqlalchemy.exc import DBAPIError, OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from core.errors import DomainError
from core.schemas import Problem

log = logging.getLogger("diesel.errors")
PROBLEM_JSON = "application/problem+json"

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    503: "service_unavailable",
}
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem(
    status: int, code: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> Response[Problem]:
    body = Problem(
        type=f"https://docs.diesel-direct.example/problems/{code}",
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        code=code,
        field=extra.get("field"),
        errors=extra.get("errors"),
        reasons=extra.get("reasons"),
        job_id=extra.get("job_id"),
        user_id=extra.get("user_id"),
    )
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[Problem]:
    retry_after = exc.extra.get("retry_after")
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return problem(
        exc.status_code,
        exc.code,
        exc.detail,
        field=exc.field,
        reasons=exc.extra.get("reasons"),
        job_id=exc.extra.get("job_id"),
        user_id=exc.extra.get("user_id"),
        headers=headers,
        errors=exc.extra.get("errors"),
    )


def validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            errors.append({k: str(v) for k, v in item.items() if k in ("key", "message", "source")})
    detail = str(exc.detail)
    if errors:
        detail = "; ".join(f"{e.get('key') or 'body'}: {e.get('message', '')}" for e in errors)
    return problem(400, "validation_error", detail[:1000], errors=errors or None)


def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    status = exc.status_code
    if isinstance(exc, NotAuthorizedException):
        return problem(401, "unauthorized", "log in first: a valid, unexpired bearer token is needed")
    if isinstance(exc, PermissionDeniedException):
        return problem(403, "forbidden", str(exc.detail))
    if isinstance(exc, NotFoundException):
        return problem(404, "not_found", "no such resource")
    if status >= 500:
        log.error("HTTP %s: %s", status, exc.detail)
        return problem(status, _STATUS_CODES.get(status, "internal_error"), "something went wrong on our side")
    # Keep the exception's own headers: Allow on 405, WWW-Authenticate on 401...
    return problem(status, _STATUS_CODES.get(status, "bad_request"), str(exc.detail), headers=exc.headers or None)


def malformed_body(_: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    # Raised while decoding a request: nesting too deep for the decoder, bytes that are not UTF-8.
    return problem(400, "malformed_body", "the request body is not valid JSON (encoding or nesting)")


def out_of_range(_: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    return problem(400, "out_of_range", "a value is outside the range this service can handle (dates, numbers)")


def database_unavailable(_: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    log.warning("database error: %s", type(exc).__name__)
    return problem(503, "database_unavailable", "the database is not reachable right now; retry shortly")


def unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return database_unavailable(request, exc)
    if isinstance(exc, StatementError) and isinstance(exc.orig, OverflowError):
        return out_of_range(request, exc)
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(500, "internal_error", "something went wrong on our side; it has been logged")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    RecursionError: malformed_body,
    UnicodeDecodeError: malformed_body,
    OverflowError: out_of_range,
    OperationalError: database_unavailable,
    PoolTimeout: database_unavailable,
    ConnectionError: database_unavailable,
    Exception: unexpected,
}


def _spec(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, description=description, media_type=PROBLEM_JSON)


ERROR_RESPONSES: dict[int, ResponseSpec] = {
    400: _spec("Malformed request or failed validation (`validation_error`)"),
    401: _spec("No, bad or expired bearer token (`unauthorized`)"),
    403: _spec("Your role may not do this (`forbidden`)"),
    404: _spec("Unknown, or not yours (`not_found`, `order_not_found`, ...)"),
    409: _spec("Conflict with the current state (`slot_full`, `idempotency_key_reused`, ...)"),
    422: _spec("A business rule refused the request (`lead_time`, `exceeds_tank_capacity`, ...)"),
    503: _spec("A dependency is down or busy; retry shortly (`database_unavailable`, `account_busy`)"),
}
# Only the operations that are rate limited add this (`responses=RATE_LIMITED`).
RATE_LIMITED: dict[int, ResponseSpec] = {
    429: _spec(
        "Rate limited: wait the seconds the `Retry-After` header gives "
        "(`too_many_login_attempts`, `login_delayed`, `too_many_applications`)"
    ),
}
