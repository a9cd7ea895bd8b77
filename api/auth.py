"""Bearer tokens (JWT, HS256, with expiry), login with rate limiting, `GET /me` and user management."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
import segno
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AuthenticationResult
from litestar.params import JSONBody
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token
from litestar.status_codes import HTTP_200_OK
from sqlalchemy import func, select

from api.operators import DepotIds
from api.ratelimit import RateLimiter
from core.auth import Principal, Role, roles_guard, verify_password
from core.errors import TooManyRequests, Unauthorized
from core.models import User
from orders import accounts, operators
from orders.controllers import Conf, Db, Now


class LoginIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class TokenOut(msgspec.Struct):
    access_token: str
    token_type: str
    role: str
    expires_in: int


class UserIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    username: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.\-]{3,64}$")]
    password: Annotated[str, msgspec.Meta(min_length=4, max_length=200)]
    role: Role
    customer_id: uuid.UUID | None = None
    display_name: Annotated[str, msgspec.Meta(max_length=120)] | None = None
    depot_ids: DepotIds | None = None  # a rack operator's depots (`PUT /users/{id}/depots` changes them)


class UserOut(msgspec.Struct):
    id: uuid.UUID
    username: str
    role: str
    customer_id: uuid.UUID | None
    display_name: str | None
    referral_code: str | None
    created_at: datetime


class MeOut(msgspec.Struct):
    user: UserOut
    role: str
    customer: dict[str, Any] | None


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        role=user.role,
        customer_id=user.customer_id,
        display_name=user.display_name,
        referral_code=user.referral_code,
        created_at=user.created_at,
    )


async def principal_from_token(token: Token, _connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The principal comes from the signed claims alone: no database read on every request."""
    try:
        extras = token.extras
        return Principal(
            id=uuid.UUID(token.sub),
            username=str(extras["username"]),
            role=Role(extras["role"]),
            customer_id=uuid.UUID(extras["customer_id"]) if extras.get("customer_id") else None,
        )
    except (KeyError, ValueError, TypeError):
        return None


class BearerOnlyMiddleware(JWTAuthenticationMiddleware):
    """Only the `Bearer` scheme (RFC 6750) carries a token (Litestar takes whatever follows the first space).

    A verified token is remembered until it expires: decoding and checking the signature costs about 0.17 ms,
    on every request of a client that sends the same token all day. The principal comes from the signed claims
    alone, so a remembered answer is exactly what decoding again would give.
    """

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        scheme, _, token = connection.headers.get(self.auth_header, "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise NotAuthorizedException("send `Authorization: Bearer <token>`")
        known = _VERIFIED.get(token)
        if known is not None and known[1] > time.time():
            return known[0]
        result = await self.authenticate_token(encoded_token=token, connection=connection)
        if len(_VERIFIED) >= VERIFIED_TOKENS_KEPT:
            del _VERIFIED[next(iter(_VERIFIED))]  # the oldest
        _VERIFIED[token] = (result, result.auth.exp.timestamp())
        return result


VERIFIED_TOKENS_KEPT = 4096
_VERIFIED: dict[str, tuple[AuthenticationResult, float]] = {}


def make_jwt_auth(settings: Conf) -> JWTAuth[Principal, Token]:
    return JWTAuth[Principal, Token](
        authentication_middleware_class=BearerOnlyMiddleware,
        retrieve_user_handler=principal_from_token,
        token_secret=settings.auth.secret_key,
        algorithm="HS256",
        default_token_expiration=timedelta(minutes=settings.auth.token_ttl_minutes),
        exclude=["^/schema", "^/health", "^/metrics", "^/$", "^/static", "^/app"],
        exclude_opt_key="exclude_from_auth",
    )


def issue_token(jwt_auth: JWTAuth[Principal, Token], user: User, ttl: timedelta) -> str:
    return jwt_auth.create_token(
        identifier=str(user.id),
        token_expiration=ttl,
        token_extras={
            "username": user.username,
            "role": user.role,
            "customer_id": str(user.customer_id) if user.customer_id else None,
        },
    )


ADMIN = roles_guard(Role.ADMIN)
STAFF = roles_guard(Role.ADMIN, Role.DISPATCHER)


class AuthController(Controller):
    tags = ["auth"]

    @post("/auth/token", exclude_from_auth=True, status_code=HTTP_200_OK, summary="Log in: a bearer token")
    async def login(
        self, data: JSONBody[LoginIn], request: Request[Any, Any, Any], db_session: Db, settings: Conf
    ) -> TokenOut:
        limiter: RateLimiter = request.app.state.login_limiter
        client = request.client.host if request.client else "unknown"
        # Both the username and the client address are limited: guessing one password or spraying many users.
        for key in (f"user:{data.username.lower()}", f"ip:{client}"):
            if await limiter.hit(key) > settings.auth.login_attempts_per_window:
                raise TooManyRequests(
                    "too many login attempts; wait a few minutes and try again",
                    code="too_many_login_attempts",
                )
        user = await db_session.scalar(select(User).where(func.lower(User.username) == data.username.lower()))
        if not verify_password(user.password_hash if user else None, data.password) or user is None:
            raise Unauthorized("wrong username or password", code="invalid_credentials")
        if not user.is_active:
            raise Unauthorized("this user is disabled", code="user_disabled")
        await limiter.reset(f"user:{data.username.lower()}")
        ttl = timedelta(minutes=settings.auth.token_ttl_minutes)
        token = issue_token(request.app.state.jwt_auth, user, ttl)
        expires_in = int(ttl.total_seconds())
        return TokenOut(access_token=token, token_type="bearer", role=user.role, expires_in=expires_in)  # noqa: S106

    @get("/me", summary="The logged-in user, its role and customer account")
    async def me(self, request: Request[Principal, Any, Any], db_session: Db) -> MeOut:
        user = await db_session.get(User, request.user.id)
        if user is None or not user.is_active:
            raise Unauthorized("this user no longer exists", code="user_gone")
        customer = None
        if user.customer_id:
            account = await accounts.get_customer(db_session, user.customer_id)
            customer = {"id": str(account.id), "name": account.name}
        return MeOut(user=user_out(user), role=user.role, customer=customer)

    @get("/me/referral.svg", guards=[STAFF], media_type="image/svg+xml", summary="QR code of my sign-up link")
    async def referral_qr(self, request: Request[Principal, Any, Any], db_session: Db) -> Response[bytes]:
        code = await accounts.referral_code_for(db_session, request.user.id)
        link = f"{str(request.base_url).rstrip('/')}/app/customer/apply?ref={code}"
        svg = segno.make(link, error="q").svg_inline(scale=4, border=4).encode()
        return Response(svg, media_type="image/svg+xml", headers={"X-Referral-Code": code})

    @post("/users", guards=[ADMIN], summary="Create a user (admin)")
    async def create_user(
        self, data: JSONBody[UserIn], request: Request[Principal, Any, Any], db_session: Db, now: Now
    ) -> UserOut:
        user = await accounts.create_user(
            db_session,
            username=data.username,
            password=data.password,
            role=data.role,
            customer_id=data.customer_id,
            display_name=data.display_name,
            now=now,
        )
        if data.depot_ids is not None:
            await operators.set_depots(db_session, user_id=user.id, depots=data.depot_ids, actor=request.user, now=now)
        return user_out(user)

    @get("/users", guards=[ADMIN], summary="Users (admin)")
    async def list_users(self, db_session: Db) -> list[UserOut]:
        rows = (await db_session.scalars(select(User).order_by(User.username))).all()
        return [user_out(u) for u in rows]
