"""Bearer tokens (JWT, HS256, with expiry) that name a login session, login with rate limiting, logout, `GET /me`,
password change and user management."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Protocol

import msgspec
import segno
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from litestar import Controller, Request, Response, get, post, put
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AuthenticationResult
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.operators import DepotIds
from api.ratelimit import LoginThrottle
from api.sessions import SessionGuard
from core.auth import (
    MIN_PASSWORD_LENGTH,
    CustomerRole,
    ManagerLevel,
    Principal,
    Role,
    roles_guard,
    verify_password_async,
)
from core.errors import Unauthorized
from core.models import User
from core.schemas import Page
from orders import accounts, operators, people, users
from orders.controllers import Conf, Db, Limit, Now, Offset, Search

Password = Annotated[
    str, msgspec.Meta(min_length=MIN_PASSWORD_LENGTH, max_length=200, description="at least 10 characters")
]


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
    password: Password
    role: Role
    customer_id: uuid.UUID | None = None
    display_name: Annotated[str, msgspec.Meta(max_length=120)] | None = None
    depot_ids: DepotIds | None = None  # a rack operator's depots (`PUT /users/{id}/depots` changes them)


class UserPatch(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    is_active: bool | None = None
    role: Role | None = None
    display_name: Annotated[str, msgspec.Meta(max_length=120)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    manager: bool | None = None  # an account manager (any staff role)
    manager_level: ManagerLevel | None = None  # its level on the responsibility ladder
    password: Password | None = None  # a reset by the admin: every login of the user ends


class PasswordChangeIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    new_password: Password


class UserOut(msgspec.Struct):
    id: uuid.UUID
    username: str
    role: str
    customer_id: uuid.UUID | None
    display_name: str | None
    referral_code: str | None
    created_at: datetime
    is_active: bool = True
    phone: str | None = None
    manager: bool = False
    manager_level: str | None = None
    depot_ids: list[uuid.UUID] | None = None  # a rack operator's depots, in the user list


class MeOut(msgspec.Struct):
    user: UserOut
    role: str
    customer: dict[str, Any] | None
    customer_role: str | None = None  # a customer user's role in its account
    # What the customer app may offer this user (api.people.CAPABILITIES): what its role would be refused is hidden.
    may: dict[str, bool] | None = None


def user_out(user: User, *, depot_ids: list[uuid.UUID] | None = None) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        role=user.role,
        customer_id=user.customer_id,
        display_name=user.display_name,
        referral_code=user.referral_code,
        created_at=user.created_at,
        is_active=user.is_active,
        phone=user.phone,
        manager=user.manager,
        manager_level=user.manager_level,
        depot_ids=depot_ids,
    )


async def principal_from_token(token: Token, _connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The principal comes from the signed claims; whether its session is still open is checked per request."""
    try:
        extras = token.extras
        return Principal(
            id=uuid.UUID(token.sub),
            username=str(extras["username"]),
            role=Role(extras["role"]),
            customer_id=uuid.UUID(extras["customer_id"]) if extras.get("customer_id") else None,
            session_id=uuid.UUID(extras["sid"]) if extras.get("sid") else None,
            customer_role=CustomerRole(extras["customer_role"]) if extras.get("customer_role") else None,
        )
    except (KeyError, ValueError, TypeError):
        return None


class BearerOnlyMiddleware(JWTAuthenticationMiddleware):
    """Only the `Bearer` scheme (RFC 6750) carries a token (Litestar takes whatever follows the first space).

    A verified token is remembered until it expires: decoding and checking the signature costs about 0.17 ms,
    on every request of a client that sends the same token all day. Its session is checked on every request,
    remembered or not (api/sessions.py).
    """

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        scheme, _, token = connection.headers.get(self.auth_header, "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise NotAuthorizedException("send `Authorization: Bearer <token>`")
        known = _VERIFIED.get(token)
        if known is not None and known[1] > time.time():
            result = known[0]
        else:
            result = await self.authenticate_token(encoded_token=token, connection=connection)
            if len(_VERIFIED) >= VERIFIED_TOKENS_KEPT:
                del _VERIFIED[next(iter(_VERIFIED))]  # the oldest
            _VERIFIED[token] = (result, result.auth.exp.timestamp())
        guard: SessionGuard = connection.app.state.session_guard
        handler = connection.scope.get("route_handler")
        await guard.check(result.user, allow_ended=bool(handler and handler.opt.get("allow_ended_session")))
        return result


VERIFIED_TOKENS_KEPT = 4096
_VERIFIED: dict[str, tuple[AuthenticationResult, float]] = {}


def jwt_signing_key(secret_key: str) -> str:
    """The HS256 key: derived from SECRET_KEY for this purpose only (HKDF-SHA256), like the other subkeys, so
    a token's key reveals nothing of the secret that also seals webhook secrets and signs share links."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"diesel-direct/jwt", info=b"hs256-signing-key/v1")
    return hkdf.derive(secret_key.encode()).hex()


def make_jwt_auth(settings: Conf) -> JWTAuth[Principal, Token]:
    return JWTAuth[Principal, Token](
        authentication_middleware_class=BearerOnlyMiddleware,
        retrieve_user_handler=principal_from_token,
        token_secret=jwt_signing_key(settings.auth.secret_key),
        algorithm="HS256",
        default_token_expiration=timedelta(minutes=settings.auth.token_ttl_minutes),
        exclude=["^/schema", "^/health", "^/metrics", "^/$", "^/static", "^/app"],
        exclude_opt_key="exclude_from_auth",
        # Litestar skips HEAD by default; HEAD is served as GET anyway (api/middleware.py), and authenticated as GET.
        exclude_http_methods=["OPTIONS"],
    )


class TokenUser(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def username(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def customer_id(self) -> uuid.UUID | None: ...


async def issue_token(
    session: AsyncSession, jwt_auth: JWTAuth[Principal, Token], user: TokenUser, ttl: timedelta
) -> str:
    """Open a login session and sign a token that names it (`sid`) and expires with it.

    Session times are wall-clock time, as the token's `exp` is (not the injected business clock)."""
    login = await users.open_session(session, user_id=user.id, now=datetime.now(UTC), ttl=ttl)
    return jwt_auth.create_token(
        identifier=str(user.id),
        token_expiration=ttl,
        token_extras={
            "username": user.username,
            "role": user.role,
            "customer_id": str(user.customer_id) if user.customer_id else None,
            "sid": str(login.id),
            "customer_role": getattr(user, "customer_role", None),
        },
    )


def client_address(request: Request[Any, Any, Any]) -> str:
    """The peer's address, or the client's as a trusted proxy reported it (api/middleware.py)."""
    return request.client.host if request.client else "unknown"


ADMIN = roles_guard(Role.ADMIN)
STAFF = roles_guard(Role.ADMIN, Role.DISPATCHER)
# Account managers may have any staff role: the service checks the user's `manager` flag.
ANY_STAFF = roles_guard(*(role for role in Role if role != Role.CUSTOMER))


class AuthController(Controller):
    tags = ["auth"]

    @post(
        "/auth/token",
        exclude_from_auth=True,
        status_code=HTTP_200_OK,
        summary="Log in: a bearer token",
        description="Failed logins are limited per client address, and after a few failures for one username from "
        "one address each further try must wait 1 s, 2 s, 4 s ... (429 with `Retry-After`).",
        rate_limited=True,
    )
    async def login(
        self, data: JSONBody[LoginIn], request: Request[Any, Any, Any], db_session: Db, settings: Conf
    ) -> TokenOut:
        throttle: LoginThrottle = request.app.state.login_throttle
        address = client_address(request)
        await throttle.attempt(username=data.username, address=address)
        user = await db_session.scalar(select(User).where(func.lower(User.username) == data.username.lower()))
        if not await verify_password_async(user.password_hash if user else None, data.password) or user is None:
            raise Unauthorized("wrong username or password", code="invalid_credentials")
        await throttle.succeeded(username=data.username, address=address)
        if not user.is_active:
            raise Unauthorized("this user is disabled", code="user_disabled")
        ttl = timedelta(minutes=settings.auth.token_ttl_minutes)
        token = await issue_token(db_session, request.app.state.jwt_auth, user, ttl)
        expires_in = int(ttl.total_seconds())
        return TokenOut(access_token=token, token_type="bearer", role=user.role, expires_in=expires_in)  # noqa: S106

    @post(
        "/auth/logout",
        status_code=HTTP_204_NO_CONTENT,
        summary="Log out: this token stops working",
        description="Ends the token's login session at once, in every server process. Repeating it is harmless.",
        allow_ended_session=True,
    )
    async def logout(self, request: Request[Principal, Any, Any], db_session: Db) -> None:
        session_id = request.user.session_id
        assert session_id is not None  # the session check let in only a token that names one
        await users.end_session(db_session, session_id=session_id, now=datetime.now(UTC))
        await _guard(request).revoked(db_session, session_id=session_id)

    @post(
        "/me/password",
        status_code=HTTP_204_NO_CONTENT,
        summary="Change my password",
        description="Needs the current password (wrong: 403 `wrong_password`, and counted like a failed login). "
        "Every other login of the user ends; this token keeps working.",
        rate_limited=True,
    )
    async def change_password(
        self, data: JSONBody[PasswordChangeIn], request: Request[Principal, Any, Any], db_session: Db
    ) -> None:
        throttle: LoginThrottle = request.app.state.login_throttle
        actor, address = request.user, client_address(request)
        # A stolen token must not become a way to guess the password behind it.
        await throttle.attempt(username=actor.username, address=address)
        await users.change_password(
            db_session,
            actor=actor,
            current_password=data.current_password,
            new_password=data.new_password,
            now=datetime.now(UTC),
        )
        await throttle.succeeded(username=actor.username, address=address)
        await _guard(request).revoked(db_session, user_id=actor.id)

    @get("/me", summary="The logged-in user, its role and customer account")
    async def me(self, request: Request[Principal, Any, Any], db_session: Db) -> MeOut:
        user = await db_session.get(User, request.user.id)
        if user is None or not user.is_active:
            raise Unauthorized("this user no longer exists", code="user_gone")
        from api.people import capabilities  # api.people imports this module (Password)

        customer, customer_role, may = None, None, None
        if user.customer_id:
            account = await accounts.get_customer(db_session, user.customer_id)
            customer = {"id": str(account.id), "name": account.name}
            account_role = people.role_of(user)
            customer_role, may = str(account_role), capabilities(account_role)
        return MeOut(user=user_out(user), role=user.role, customer=customer, customer_role=customer_role, may=may)

    @get("/me/referral.svg", guards=[ANY_STAFF], media_type="image/svg+xml", summary="QR code of my sign-up link")
    async def referral_qr(
        self, request: Request[Principal, Any, Any], db_session: Db, settings: Conf
    ) -> Response[bytes]:
        """The public sign-up page with the code filled in, at `PUBLIC_BASE_URL` (never the request's `Host`:
        whoever sends the request would choose where the printed code leads); a relative link without it."""
        code = await accounts.referral_code_for(db_session, request.user.id)
        link = f"{settings.public_base_url or ''}/app/apply?ref={code}"
        svg = segno.make(link, error="q").svg_inline(scale=4, border=4).encode()
        return Response(svg, media_type="image/svg+xml", headers={"X-Referral-Code": code, "X-Referral-Link": link})

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
            actor=request.user,
        )
        if data.depot_ids is not None:
            await operators.set_depots(db_session, user_id=user.id, depots=data.depot_ids, actor=request.user, now=now)
        return user_out(user)

    @get("/users", guards=[ADMIN], summary="Users (admin), by username")
    async def list_users(
        self,
        db_session: Db,
        limit: Limit = 50,
        offset: Offset = 0,
        role: FromQuery[Role | None] = None,
        customer_id: FromQuery[uuid.UUID | None] = None,
        active: FromQuery[bool | None] = None,
        q: Search = None,
        manager: FromQuery[bool | None] = None,
    ) -> Page[UserOut]:
        """Rack operators carry their `depot_ids`. `q`: part of the username, name or phone (any case).
        `manager=true`: the account managers (to choose one for a customer)."""
        where = users.UserFilter(role=role, customer_id=customer_id, is_active=active, search=q, manager=manager)
        rows, total = await users.list_users(db_session, limit=limit, offset=offset, where=where)
        depots = await users.depots_by_user(db_session, [u.id for u in rows if u.role == Role.RACK_OPERATOR])
        items = [user_out(u, depot_ids=depots.get(u.id, []) if u.role == Role.RACK_OPERATOR else None) for u in rows]
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get("/users/{user_id:uuid}", guards=[ADMIN], summary="One user (admin); a rack operator with its depots")
    async def get_user(self, user_id: FromPath[uuid.UUID], db_session: Db) -> UserOut:
        user = await users.get_user(db_session, user_id)
        depots = await users.depots_by_user(db_session, [user.id]) if user.role == Role.RACK_OPERATOR else None
        return user_out(user, depot_ids=None if depots is None else depots.get(user.id, []))

    @put(
        "/users/{user_id:uuid}",
        guards=[ADMIN],
        status_code=HTTP_200_OK,
        summary="Change a user: active, role, name, phone, password, account manager and its level (admin)",
        description="Disabling a user, giving it another role or a new `password` (a reset) ends all its logins "
        "at once. The last active admin can be neither disabled nor demoted (409 `last_admin`).",
    )
    async def update_user(
        self,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[UserPatch],
        request: Request[Principal, Any, Any],
        db_session: Db,
    ) -> UserOut:
        user, ended = await users.update_user(
            db_session,
            user_id=user_id,
            actor=request.user,
            now=datetime.now(UTC),
            is_active=data.is_active,
            role=data.role,
            display_name=data.display_name,
            phone=data.phone,
            manager=data.manager,
            manager_level=data.manager_level,
        )
        if data.password is not None:
            await users.reset_password(
                db_session, user_id=user.id, new_password=data.password, actor=request.user, now=datetime.now(UTC)
            )
            ended = True
        if ended:
            await _guard(request).revoked(db_session, user_id=user.id)
        return user_out(user)


def _guard(request: Request[Any, Any, Any]) -> SessionGuard:
    guard: SessionGuard = request.app.state.session_guard
    return guard
