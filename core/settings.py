"""Settings read once from the environment: one class per concern, one cached `get_settings()`.

Business code receives the values it needs as arguments; only the composition root (api/) and the worker
entry points call `get_settings()`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str  # an async URL for the API (postgresql+asyncpg / sqlite+aiosqlite)
    pool_size: int = 10
    echo: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    redis_url: str | None
    broker_url: str
    result_backend: str
    task_time_limit_s: int = 600
    plan_job_stale_s: int = 90  # a running planning job without a heartbeat this long lost its worker
    plan_jobs_max_active: int = 20  # planning jobs queued or running at once, all days and depots together
    reaper_interval_s: int = 30


@dataclass(frozen=True, slots=True)
class AuthSettings:
    secret_key: str
    token_ttl_minutes: int = 12 * 60
    # Failed logins per client address and window (successes do not count).
    login_attempts_per_window: int = 10
    login_window_s: int = 300
    # Per username and address: this many failures come free, then attempts are spaced 1 s, 2 s, 4 s ... apart.
    login_free_failures: int = 5
    login_delay_max_s: int = 900
    # Online applications per client address and window (each hashes a password).
    applications_per_window: int = 5
    applications_window_s: int = 3600
    # Master secrets that seal webhook secrets at rest: the first seals, all open; SECRET_KEY when empty.
    webhook_secret_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CodeSettings:
    """Signed pickup/load/receipt codes. Private keys come from SIGNING_KEYS (the key file's text or PEM blocks)
    or from a key file that is never committed (generated in the data folder on first use)."""

    signing_keys_text: str | None
    signing_keys_file: Path
    pickup_early_minutes: int = 120  # a pickup code is valid this long before its slot ...
    pickup_grace_minutes: int = 60  # ... and this long after it (then the booking expires as a no-show)
    rack_clock_leeway_s: int = 300
    position_retention_days: int = 90


@dataclass(frozen=True, slots=True)
class DocumentSettings:
    """Invoices and their exports: the seller printed on every document and sealed in its QR code, and the tax
    classification code (税收分类编码) of each product in the e-fapiao export."""

    seller_name: str = "Diesel Direct"
    seller_tax_id: str = ""  # 统一社会信用代码 / taxpayer id
    seller_address: str = ""
    seller_phone: str = ""
    seller_bank_account: str = ""  # bank and account number, as printed on a fapiao
    tax_codes: tuple[tuple[str, str], ...] = ()  # (product code, tax classification code)
    default_tax_code: str = "1070101030100000000"  # 柴油 (diesel)


@dataclass(frozen=True, slots=True)
class OrderRules:
    min_litres: int = 500
    max_litres: int = 60_000
    lead_time_minutes: int = 4 * 60
    max_days_ahead: int = 30
    slot_minutes: int = 30
    currency: str = "CNY"
    # The yearly-volume tier table is data, not a setting: `tier_bands`, edited at PUT /settings/tiers.


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """Live streams (Server-Sent Events)."""

    streams_per_user: int = 10  # open streams per user and API process; 429 `too_many_streams` beyond
    recheck_s: int = 60  # how often an open stream re-checks that its viewer may still follow it


@dataclass(frozen=True, slots=True)
class InsightSettings:
    """Account managers' view (insight/)."""

    # A customer with fewer than 3 orders is quiet after this many days without an order (others: 2x their rhythm).
    dormant_floor_days: int = 30


@dataclass(frozen=True, slots=True)
class PromiseSettings:
    """The delivery promise (promise/): the windows offered, and what happens to an order the fleet cannot fit."""

    window_minutes: int = 120  # the windows GET /availability offers, from the depot's opening on
    # An order whose window the fleet cannot keep: `refuse` (409 `window_full`) or `flag` (taken, with an event);
    # `off` takes orders without asking the fleet (GET /availability and quotes still answer).
    mode: str = "refuse"
    promise_hours: int = 24  # the promise a quote's earliest window is measured against
    # The background rebuild (promise.tasks.rebuild_days): how often beat runs it, how long each day's solve may
    # take, and how many orders added or removed since a day's last solve make it solve again.
    rebuild_interval_s: int = 60
    rebuild_seconds: float = 20.0
    rebuild_changes: int = 10


@dataclass(frozen=True, slots=True)
class GeocoderSettings:
    """Address search for customers' sites (`GET /geocode`): none, or a Nominatim server (geopy)."""

    kind: str = "none"  # none | nominatim
    url: str | None = None  # e.g. https://nominatim.example.com (a path prefix is kept)
    timeout_s: float = 5.0

    @property
    def enabled(self) -> bool:
        return self.kind != "none"


GEOCODERS = ("none", "nominatim")


def geocoder_settings(kind: str, url: str | None, timeout_s: float) -> GeocoderSettings:
    """GEOCODER and GEOCODER_URL: a Nominatim server needs an http(s) address; anything else stops the start."""
    kind = kind.strip().lower() or "none"
    if kind not in GEOCODERS:
        raise ValueError(f"GEOCODER must be one of {', '.join(GEOCODERS)}, not {kind!r}")
    if kind == "none":
        return GeocoderSettings()
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.query:
        raise ValueError(f"GEOCODER={kind} needs GEOCODER_URL like https://nominatim.example.com, not {url!r}")
    return GeocoderSettings(kind=kind, url=(url or "").strip().rstrip("/"), timeout_s=timeout_s)


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    db: DatabaseSettings
    broker: BrokerSettings
    auth: AuthSettings
    codes: CodeSettings
    documents: DocumentSettings = field(default_factory=DocumentSettings)
    rules: OrderRules = field(default_factory=OrderRules)
    live: LiveSettings = field(default_factory=LiveSettings)
    insight: InsightSettings = field(default_factory=InsightSettings)
    promise: PromiseSettings = field(default_factory=PromiseSettings)
    default_timezone: str = "Asia/Shanghai"
    standard_temperature_c: int = 15
    max_body_bytes: int = 256 * 1024
    cors_origins: tuple[str, ...] = ()
    # Reverse proxies (addresses or CIDRs) whose X-Forwarded-For / Forwarded headers name the client; none by default.
    trusted_proxies: tuple[str, ...] = ()
    environment: str = "development"
    # Road distances for planning: an osrm-routed URL, or a dataset built by `diesel osrm build`; geodesic otherwise.
    osrm_url: str | None = None
    osrm_dataset: str | None = None
    # Where outsiders reach this service (links handed out, e.g. share links); relative links when unset.
    public_base_url: str | None = None
    geocoder: GeocoderSettings = field(default_factory=GeocoderSettings)


def promise_settings(
    window_minutes: int,
    mode: str,
    promise_hours: int,
    *,
    rebuild_interval_s: int = 60,
    rebuild_seconds: float = 20.0,
    rebuild_changes: int = 10,
) -> PromiseSettings:
    """PROMISE_WINDOW_MINUTES (30-720), PROMISE_MODE (refuse | flag | off), PROMISE_HOURS; anything else stops the
    start. PROMISE_REBUILD_INTERVAL_S, PROMISE_REBUILD_SECONDS and PROMISE_REBUILD_CHANGES are at least 1."""
    if not 30 <= window_minutes <= 720:
        raise ValueError(f"PROMISE_WINDOW_MINUTES must be between 30 and 720, not {window_minutes}")
    if mode not in ("refuse", "flag", "off"):
        raise ValueError(f"PROMISE_MODE must be refuse, flag or off, not {mode!r}")
    return PromiseSettings(
        window_minutes=window_minutes,
        mode=mode,
        promise_hours=max(1, promise_hours),
        rebuild_interval_s=max(1, rebuild_interval_s),
        rebuild_seconds=max(1.0, rebuild_seconds),
        rebuild_changes=max(1, rebuild_changes),
    )


def async_database_url(url: str) -> str:
    """Accept the usual `postgresql://` / `sqlite:///` spellings and pick the async driver."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("postgresql+psycopg://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.split(":///", 1)[1]
    return url


def sync_database_url(url: str) -> str:
    """The same database for synchronous tools (Alembic, the Celery broker/result store)."""
    if url.startswith(("postgresql+asyncpg://", "postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite+aiosqlite:///"):
        return "sqlite:///" + url.split(":///", 1)[1]
    return url


def public_base_url(value: str | None) -> str | None:
    """PUBLIC_BASE_URL as `scheme://host[:port][/path]` without a trailing slash; anything else stops the start."""
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.query or parts.fragment:
        raise ValueError(f"PUBLIC_BASE_URL must look like https://diesel.example.com, not {value!r}")
    return value.strip().rstrip("/")


class InsecureSecretKey(ValueError):
    """SECRET_KEY is too weak for DIESEL_ENV=production."""


MIN_SECRET_KEY_CHARS = 32
# Words that mark a placeholder (as in `change-me`, `test-secret-key`), not a generated secret.
_PLACEHOLDER_WORDS = ("change", "secret", "example", "default", "test", "insecure", "password", "dummy", "sample")


def check_secret_key(key: str, *, environment: str) -> None:
    """In production, refuse a SECRET_KEY that is short or looks like a placeholder: it signs every token."""
    if environment != "production":
        return
    advice = "generate one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
    if len(key) < MIN_SECRET_KEY_CHARS:
        raise InsecureSecretKey(f"SECRET_KEY has {len(key)} characters, fewer than {MIN_SECRET_KEY_CHARS}: {advice}")
    lowered = key.lower()
    if len(set(key)) < 10 or any(word in lowered for word in _PLACEHOLDER_WORDS):
        raise InsecureSecretKey(f"SECRET_KEY looks like a placeholder, not a random secret: {advice}")


def private_dir(path: Path) -> None:
    """A folder only this user may enter (secrets, the SQLite database and keys live there); an existing one is
    left as it is."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def write_private_file(path: Path, text: str) -> None:
    """Create `path` readable by its owner only, from the first byte (no window with wider permissions)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _secret_key(data_dir: Path) -> str:
    """SECRET_KEY from the environment; otherwise one generated once and kept in the data folder."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    import secrets

    private_dir(data_dir)
    key = secrets.token_urlsafe(48)
    write_private_file(path, key)
    return key


def _list(name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in _env(name, "").split(",") if item.strip())


def _pairs(name: str) -> tuple[tuple[str, str], ...]:
    """`a=1,b=2` as (("a", "1"), ("b", "2")); an item without `=` stops the start."""
    pairs = []
    for item in _env(name, "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{name} must look like `diesel-0=1070101030100000000,...`, not {item!r}")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def load_settings() -> Settings:
    """Read the environment; raises InsecureSecretKey when DIESEL_ENV=production and SECRET_KEY is weak."""
    data_dir = Path(_env("DIESEL_DATA_DIR", "./var")).resolve()
    environment = _env("DIESEL_ENV", "development")
    secret_key = _secret_key(data_dir)
    check_secret_key(secret_key, environment=environment)
    db_url = os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'diesel.db'}"
    redis_url = os.environ.get("REDIS_URL") or None
    if redis_url:
        broker_url, result_backend = redis_url, redis_url
    else:
        # The embedded default: a broker and a result store that need no server (kombu's SQLAlchemy transport).
        broker_url = f"sqla+sqlite:///{data_dir / 'broker.db'}"
        result_backend = f"db+sqlite:///{data_dir / 'results.db'}"
    return Settings(
        data_dir=data_dir,
        db=DatabaseSettings(url=async_database_url(db_url), pool_size=_int("DATABASE_POOL_SIZE", 10)),
        broker=BrokerSettings(
            redis_url=redis_url,
            broker_url=os.environ.get("CELERY_BROKER_URL") or broker_url,
            result_backend=os.environ.get("CELERY_RESULT_BACKEND") or result_backend,
            task_time_limit_s=_int("TASK_TIME_LIMIT_S", 600),
            plan_job_stale_s=_int("PLAN_JOB_STALE_S", 90),
            plan_jobs_max_active=_int("PLAN_JOBS_MAX_ACTIVE", 20),
            reaper_interval_s=_int("REAPER_INTERVAL_S", 30),
        ),
        auth=AuthSettings(
            secret_key=secret_key,
            token_ttl_minutes=_int("TOKEN_TTL_MINUTES", 12 * 60),
            login_attempts_per_window=_int("LOGIN_ATTEMPTS_PER_WINDOW", 10),
            login_window_s=_int("LOGIN_WINDOW_S", 300),
            login_free_failures=_int("LOGIN_FREE_FAILURES", 5),
            login_delay_max_s=_int("LOGIN_DELAY_MAX_S", 900),
            applications_per_window=_int("APPLICATIONS_PER_WINDOW", 5),
            applications_window_s=_int("APPLICATIONS_WINDOW_S", 3600),
            webhook_secret_keys=_list("WEBHOOK_SECRET_KEYS"),
        ),
        codes=CodeSettings(
            signing_keys_text=os.environ.get("SIGNING_KEYS") or None,
            signing_keys_file=Path(_env("SIGNING_KEYS_FILE", str(data_dir / "signing-keys.json"))),
            pickup_early_minutes=_int("PICKUP_EARLY_MINUTES", 120),
            pickup_grace_minutes=_int("PICKUP_GRACE_MINUTES", 60),
            position_retention_days=_int("POSITION_RETENTION_DAYS", 90),
        ),
        documents=DocumentSettings(
            seller_name=_env("SELLER_NAME", "Diesel Direct"),
            seller_tax_id=_env("SELLER_TAX_ID", ""),
            seller_address=_env("SELLER_ADDRESS", ""),
            seller_phone=_env("SELLER_PHONE", ""),
            seller_bank_account=_env("SELLER_BANK_ACCOUNT", ""),
            tax_codes=_pairs("EFAPIAO_TAX_CODES"),
            default_tax_code=_env("EFAPIAO_DEFAULT_TAX_CODE", "1070101030100000000"),
        ),
        rules=OrderRules(
            min_litres=_int("ORDER_MIN_LITRES", 500),
            max_litres=_int("ORDER_MAX_LITRES", 60_000),
            lead_time_minutes=_int("ORDER_LEAD_TIME_MINUTES", 240),
            max_days_ahead=_int("ORDER_MAX_DAYS_AHEAD", 30),
            slot_minutes=_int("PICKUP_SLOT_MINUTES", 30),
            currency=_env("CURRENCY", "CNY"),
        ),
        live=LiveSettings(
            streams_per_user=_int("LIVE_STREAMS_PER_USER", 10), recheck_s=max(1, _int("LIVE_RECHECK_S", 60))
        ),
        insight=InsightSettings(dormant_floor_days=max(1, _int("DORMANT_FLOOR_DAYS", 30))),
        promise=promise_settings(
            _int("PROMISE_WINDOW_MINUTES", 120),
            _env("PROMISE_MODE", "refuse"),
            _int("PROMISE_HOURS", 24),
            rebuild_interval_s=_int("PROMISE_REBUILD_INTERVAL_S", 60),
            rebuild_seconds=_float("PROMISE_REBUILD_SECONDS", 20.0),
            rebuild_changes=_int("PROMISE_REBUILD_CHANGES", 10),
        ),
        default_timezone=_env("DEFAULT_TIMEZONE", "Asia/Shanghai"),
        standard_temperature_c=_int("STANDARD_TEMPERATURE_C", 15),
        max_body_bytes=_int("MAX_BODY_BYTES", 256 * 1024),
        cors_origins=tuple(o for o in _env("CORS_ORIGINS", "").split(",") if o),
        trusted_proxies=_list("TRUSTED_PROXIES"),
        environment=environment,
        osrm_url=os.environ.get("OSRM_URL") or None,
        osrm_dataset=os.environ.get("OSRM_DATASET") or None,
        public_base_url=public_base_url(os.environ.get("PUBLIC_BASE_URL") or None),
        geocoder=geocoder_settings(
            _env("GEOCODER", "none"), os.environ.get("GEOCODER_URL"), _float("GEOCODER_TIMEOUT_S", 5.0)
        ),
    )


@cache
def get_settings() -> Settings:
    return load_settings()
