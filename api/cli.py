"""`diesel`: the command line of Diesel Direct."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import click

from api.route_cli import osrm, route
from core.auth import Role


def _use_data_dir(data_dir: str | None) -> None:
    """Point settings at a data folder before anything reads them."""
    if data_dir:
        os.environ["DIESEL_DATA_DIR"] = str(Path(data_dir).resolve())
    from core.settings import get_settings

    get_settings.cache_clear()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def main() -> None:
    """Diesel Direct: bulk diesel ordering, pickup bookings, tanker dispatch and tracking.

    Configuration comes from the environment: DATABASE_URL (default: SQLite under DIESEL_DATA_DIR),
    REDIS_URL (default: none, an embedded broker), DIESEL_DATA_DIR (default ./var), SECRET_KEY.
    """


@main.command()
@click.option("--port", default=8000, show_default=True, help="HTTP port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--data-dir", default="./var", show_default=True, help="Folder for the SQLite database and broker.")
@click.option("--no-worker", is_flag=True, help="Do not start the background worker.")
def demo(port: int, host: str, data_dir: str, no_worker: bool) -> None:
    """Set up everything and run the service with demo data (SQLite, embedded worker)."""
    # The demo is the embedded default whatever the shell has configured.
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        os.environ.pop(name, None)
    _use_data_dir(data_dir)
    # Links that leave the app (a pickup pass by SMS) need an absolute address: the demo's own, unless configured.
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - compared, not bound
    os.environ.setdefault("PUBLIC_BASE_URL", f"http://{shown_host}:{port}")
    from api.demo import DEMO_PASSWORD, demo_logins
    from core.settings import get_settings

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _migrate(settings.db.url)
    created = asyncio.run(_seed())
    click.echo(("Seeded demo data" if created else "Demo data already present") + f" in {settings.data_dir}")
    _exit_on_sigterm()
    worker = None if no_worker else _KeptRunning(lambda: _start_worker(beat=True))
    try:
        url = f"http://{host}:{port}"
        click.echo("")
        click.secho(f"  Diesel Direct is running at {url}", fg="green", bold=True)
        click.echo(f"  Apps (customer, back office, dispatcher, driver, rack): {url}/app")
        click.echo(f"  API documentation: {url}/schema    health: {url}/health")
        click.echo(f"  Demo logins (password '{DEMO_PASSWORD}' for all):")
        for username, role in demo_logins():
            click.echo(f"    {username:<11} {role}")
        click.echo("  Press Ctrl+C to stop.\n")
        _serve(host=host, port=port, workers=1)
    finally:
        if worker is not None:
            worker.stop()


def _exit_on_sigterm() -> None:
    """uvicorn stops serving on SIGTERM, then sends the signal to itself again with the handler it found: the
    default one ends the process at once, before `demo` stops its worker. SystemExit runs the `finally` first."""
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


class _KeptRunning:
    """The demo's worker, started again if it stops, as `restart: unless-stopped` does in docker-compose:
    a demo whose planning jobs stay queued for ever because its worker died would teach nothing.

    The worker runs in a process group of its own: a worker killed outright leaves its beat child behind, and
    that orphan (which would keep sending the periodic tasks twice) goes with the group. A demo that is itself
    killed outright takes its worker along too: the worker ends with its parent (api/lifeline.py)."""

    def __init__(self, start: Callable[[], subprocess.Popen[bytes]]) -> None:
        self._start, self.process = start, start()
        self._stopping = threading.Event()
        threading.Thread(target=self._watch, name="worker-keeper", daemon=True).start()

    def _watch(self) -> None:
        while not self._stopping.wait(2.0):
            code = self.process.poll()
            if code is not None and not self._stopping.is_set():
                click.secho(f"The worker stopped (exit code {code}); starting it again.", fg="yellow", err=True)
                _signal_group(self.process, signal.SIGKILL)
                self.process = self._start()
        # Linux sends a worker started here its parent-death signal when this thread ends: the thread lasts as
        # long as the demo, so that `stop` alone stops the worker (a second SIGTERM would cut its shutdown short).
        threading.Event().wait()

    def stop(self) -> None:
        self._stopping.set()
        _signal_group(self.process, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        _signal_group(self.process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


async def _seed() -> bool:
    from api.demo import seed
    from core.clock import SystemClock
    from core.db import create_engine, session_factory, unit_of_work
    from core.settings import get_settings

    engine = create_engine(get_settings().db.url, null_pool=True)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            return await seed(session, now=SystemClock().now())
    finally:
        await engine.dispose()


def _start_worker(*, beat: bool) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "api.cli", "worker", "--concurrency", "1", "--parent-pid", str(os.getpid())]
    if beat:
        args.append("--beat")
    return subprocess.Popen(args, env=os.environ.copy(), process_group=0)


def _serve(*, host: str, port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "api.app:serving_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        # The app reads forwarded headers itself, from TRUSTED_PROXIES only (api/middleware.py); uvicorn's own
        # handling would trust X-Forwarded-For from 127.0.0.1 whatever is configured.
        proxy_headers=False,
        access_log=False,
    )


def _migrate(url: str) -> None:
    from api.migrate import upgrade

    upgrade(url)


@main.command()
@click.option("--port", default=8000, show_default=True)
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104 - a server binds where it is told
@click.option("--workers", default=2, show_default=True, help="Server processes.")
@click.option("--migrate/--no-migrate", default=False, help="Apply migrations before serving.")
def serve(port: int, host: str, workers: int, migrate: bool) -> None:
    """Serve the HTTP API (uvicorn)."""
    from core.settings import InsecureSecretKey, get_settings

    try:
        settings = get_settings()  # refuses a weak SECRET_KEY in production before any process starts
    except InsecureSecretKey as error:
        raise click.ClickException(str(error)) from error
    if migrate:
        _migrate(settings.db.url)
    _serve(host=host, port=port, workers=workers)


@main.command()
@click.option("--revision", default="head", show_default=True)
def migrate(revision: str) -> None:
    """Apply database migrations (Alembic) up to REVISION."""
    from api.migrate import upgrade
    from core.settings import get_settings

    url = get_settings().db.url
    upgrade(url, revision)
    click.echo(f"Database at revision {revision}: {url.split('@')[-1]}")


@main.command()
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--customer", "customer_id", default=None, help="Customer account id (role customer).")
@click.option("--password", default=None, help="Asked for when omitted.")
@click.option("--name", "display_name", default=None, help="Display name.")
@click.option(
    "--depot",
    "depots",
    multiple=True,
    metavar="ID_OR_CODE",
    help="A depot whose rack the operator may act at (role rack_operator; repeat for several).",
)
def createuser(
    username: str,
    role: str,
    customer_id: str | None,
    password: str | None,
    display_name: str | None,
    depots: tuple[str, ...],
) -> None:
    """Create a user with a ROLE (admin, dispatcher, driver, rack_operator, customer)."""
    import uuid

    from core.auth import check_new_password
    from core.errors import DomainError

    if password is None:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            raise click.ClickException("the passwords differ")
    try:
        check_new_password(password)
    except DomainError as error:
        raise click.ClickException(error.detail) from error

    async def run() -> tuple[str, list[str]]:
        from core.clock import SystemClock
        from core.db import create_engine, session_factory, unit_of_work
        from core.errors import DomainError
        from core.settings import get_settings
        from orders.accounts import create_user
        from orders.operators import set_depots

        engine = create_engine(get_settings().db.url, null_pool=True)
        try:
            async with unit_of_work(session_factory(engine)) as session:
                now = SystemClock().now()
                user = await create_user(
                    session,
                    username=username,
                    password=password,
                    role=Role(role),
                    customer_id=uuid.UUID(customer_id) if customer_id else None,
                    display_name=display_name,
                    now=now,
                )
                chosen = await set_depots(session, user_id=user.id, depots=list(depots), actor=None, now=now)
                return str(user.id), [d.code for d in chosen]
        except DomainError as error:
            raise click.ClickException(error.detail) from error
        finally:
            await engine.dispose()

    user_id, depot_codes = asyncio.run(run())
    at = f" at {', '.join(depot_codes)}" if depot_codes else ""
    click.echo(f"Created {role} '{username}' ({user_id}){at}")


@main.command()
@click.option("--concurrency", default=2, show_default=True, help="Worker processes.")
@click.option("--beat", is_flag=True, help="Also run the periodic tasks (one beat per deployment).")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--parent-pid", type=int, default=None, hidden=True, help="End when this process (the parent) ends.")
def worker(concurrency: int, beat: bool, loglevel: str, parent_pid: int | None) -> None:
    """Run the background worker (Celery)."""
    if parent_pid is not None:  # `diesel demo`'s worker ends with the demo, however the demo ends
        from api.lifeline import end_with_parent

        end_with_parent(parent_pid)
    from api.wiring import wire_domains
    from core.celery_app import celery_app
    from core.settings import get_settings
    from notify.webhooks.config import webhook_settings

    webhook_settings()  # read now: a mistyped WEBHOOK_ALLOWED_NETWORKS stops the worker here, not every delivery
    # The worker's composition root, the same as the app's: a standing order takes its place in the fleet's day,
    # a planning job may start from the tentative plan. Its threads share it.
    wire_domains(get_settings())

    # Threads, not prefork: the route planner forks its own search processes, which a daemonic prefork
    # child may not do; the CPU-heavy search never runs under the worker's GIL.
    argv = [
        "worker",
        "--pool=threads",
        f"--concurrency={concurrency}",
        f"--loglevel={loglevel}",
        "--without-gossip",
        "--without-mingle",
    ]
    if beat:
        argv += ["--beat", f"--schedule={get_settings().data_dir / 'celerybeat-schedule'}"]
        _beat_ends_with_this_worker()
    celery_app.worker_main(argv)


def _beat_ends_with_this_worker() -> None:
    """The embedded beat is a child process of the worker: a worker killed outright (SIGKILL, the OOM killer)
    would leave it sending the periodic tasks for ever, twice once the worker is back."""
    from celery.signals import beat_embedded_init

    from api.lifeline import end_with_parent

    worker_pid = os.getpid()
    beat_embedded_init.connect(lambda **_: end_with_parent(worker_pid), weak=False)


@main.group()
def keys() -> None:
    """Signing keys of pickup and load codes (Ed25519)."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Add a new signing key; older keys keep verifying the codes they signed until removed."""
    from core.settings import get_settings
    from tracking.keys import rotate, save_keyring
    from tracking.keystore import load_or_create

    settings = get_settings().codes
    if settings.signing_keys_text:
        raise click.ClickException("keys come from SIGNING_KEYS: rotate them where that value is managed")
    ring = rotate(load_or_create(settings))
    save_keyring(ring, settings.signing_keys_file)
    click.echo(f"New signing key {ring.signing_key.kid.hex()}; {len(ring.keys)} keys in {settings.signing_keys_file}")
    click.echo("Restart the API and workers to sign with it.")


@keys.command("public")
def keys_public() -> None:
    """Print the public keys (the JSON a rack caches for offline verification)."""
    import json

    from core.settings import get_settings
    from tracking.keys import public_keys_json
    from tracking.keystore import load_or_create

    click.echo(json.dumps(public_keys_json(load_or_create(get_settings().codes)), indent=2))


@main.group()
def rack() -> None:
    """Loading-rack tools."""


@rack.command("verify")
@click.argument("token", required=False)
@click.option(
    "--keys",
    "keys_file",
    type=click.Path(exists=True, dir_okay=False),
    required=True,
    help="Public keys cached from GET /api/v1/rack/keys (or `diesel keys public`).",
)
@click.option("--depot", "depot_id", required=True, help="This rack's depot id.")
@click.option("--plate", default=None, help="The truck's plate, to check it against the code.")
def rack_verify(token: str | None, keys_file: str, depot_id: str, plate: str | None) -> None:
    """Verify a code offline, with cached public keys only (no network, no database).

    TOKEN is the scanned text. Without it (or with `-`) the first line of standard input is read, as a
    scanner types it. Codes may begin with `-` and hold spaces (Base45): quote them and put them after `--`,
    e.g. `diesel rack verify --keys keys.json --depot ID -- "TOKEN"`.

    Exit status 0 when authorised, 1 when refused. Whether the code was already used can only be known
    online: upload offline loadings later and conflicts are flagged.
    """
    import time

    if token is None or token == "-":  # noqa: S105 - "-" means standard input, not a password
        token = sys.stdin.readline().rstrip("\r\n")

    from tracking.codes import verify_offline
    from tracking.rack import REASON_TEXTS

    try:
        result = verify_offline(token, Path(keys_file).read_text(), time.time(), depot_id, plate)
    except ValueError as error:
        raise click.ClickException(f"the key file is not usable: {error}") from error
    if result.ok and result.payload is not None:
        p = result.payload
        click.secho("AUTHORISED", fg="green", bold=True)
        click.echo(f"  {p.kind} code, load {', '.join(p.products)} up to {p.max_litres} L, plate {p.plate or '-'}")
        return
    click.secho("REFUSED", fg="red", bold=True)
    for reason in result.reasons:
        click.echo(f"  {reason}: {REASON_TEXTS.get(reason, reason)}")
    sys.exit(1)


@main.group()
def invoice() -> None:
    """Invoice tools."""


@invoice.command("verify")
@click.argument("token", required=False)
@click.option(
    "--keys",
    "keys_file",
    type=click.Path(exists=True, dir_okay=False),
    required=True,
    help="Public keys saved from GET /api/v1/rack/keys (or `diesel keys public`).",
)
def invoice_verify(token: str | None, keys_file: str) -> None:
    """Check the signed QR seal of an invoice or credit note offline (no network, no database).

    TOKEN is the QR code's text; without it (or with `-`) the first line of standard input is read. Quote it and
    put it after `--` (it may begin with `-` and hold spaces). Compare what the seal certifies with the printed
    document. Exit status 0 when genuine, 1 when refused.
    """
    if token is None or token == "-":  # noqa: S105 - "-" means standard input, not a password
        token = sys.stdin.readline().rstrip("\r\n")

    from money.documents.figures import yuan
    from money.documents.seal import REASON_TEXTS, SealReason, verify_seal_offline

    try:
        result = verify_seal_offline(token, Path(keys_file).read_text())
    except ValueError as error:
        raise click.ClickException(f"the key file is not usable: {error}") from error
    if result.genuine and result.seal is not None:
        seal = result.seal
        click.secho("GENUINE", fg="green", bold=True)
        click.echo(f"  {seal.kind} {seal.number} issued {seal.issue_date.isoformat()}, signed by key {result.kid}")
        if seal.credits_number:
            click.echo(f"  credits invoice {seal.credits_number}")
        click.echo(f"  seller tax id {seal.seller_tax_id or '-'}, buyer tax id {seal.buyer_tax_id or '-'}")
        click.echo(f"  total {yuan(seal.total_minor)} {seal.currency}, of which tax {yuan(seal.tax_minor)}")
        click.echo(f"  lines hash {seal.lines_hash.hex()}")
        return
    click.secho("REFUSED", fg="red", bold=True)
    for reason in result.reasons:
        click.echo(f"  {reason}: {REASON_TEXTS.get(SealReason(reason), reason)}")
    sys.exit(1)


@main.command()
@click.option("--loglevel", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    """Run the scheduler of periodic tasks (exactly one per deployment)."""
    from core.celery_app import celery_app
    from core.settings import get_settings

    schedule = get_settings().data_dir / "celerybeat-schedule"
    celery_app.start(["beat", f"--loglevel={loglevel}", f"--schedule={schedule}"])


main.add_command(route)
main.add_command(osrm)


if __name__ == "__main__":
    main()
