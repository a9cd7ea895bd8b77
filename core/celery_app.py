"""The Celery application: Redis in production, a serverless SQLite broker for the embedded default.

Tasks have explicit names, take ids (never objects), are idempotent, and are acknowledged late so that a worker
killed mid-task leaves the message to be redelivered rather than lost.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from celery import Celery
from celery.schedules import crontab

from core.settings import get_settings, private_dir

TASK_MODULES = [
    "orders.tasks",
    "dispatch.tasks",
    "tracking.tasks",
    "notify.webhooks.tasks",
    "notify.tasks",
    "money.tasks",
    "insight.tasks",
    "promise.tasks",
]


def create_celery() -> Celery:
    settings = get_settings()
    private_dir(settings.data_dir)
    app = Celery("diesel", broker=settings.broker.broker_url, backend=settings.broker.result_backend)
    app.conf.update(
        include=TASK_MODULES,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.broker.task_time_limit_s,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        broker_connection_retry_on_startup=True,
        # A request that enqueues must not hang when the broker is down: fail fast, the job row is the outbox.
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
        broker_connection_timeout=2,
        timezone="UTC",
        enable_utc=True,
        beat_schedule={
            "expire-pickup-no-shows": {"task": "orders.expire_pickups", "schedule": 60.0},
            # Standing orders' occurrences, placed ahead of their cut-off (once each: a run twice is harmless).
            "standing-orders": {"task": "orders.standing_orders", "schedule": 300.0},
            "reap-stale-planning-jobs": {
                "task": "dispatch.reap_stale_jobs",
                "schedule": float(settings.broker.reaper_interval_s),
            },
            "purge-old-positions": {"task": "tracking.purge_positions", "schedule": 3600.0},
            "webhooks-outbox": {"task": "notify.webhooks_outbox", "schedule": 3.0},
            "notifications-outbox": {"task": "notify.notifications_outbox", "schedule": 2.0},
            # The promise's tentative plans solved again where orders drifted (skipped while its previous run
            # still solves: the message expires after one interval).
            "promise-rebuild": {
                "task": "promise.rebuild_days",
                "schedule": float(settings.promise.rebuild_interval_s),
                "options": {"expires": float(settings.promise.rebuild_interval_s)},
            },
            "reap-stale-invoice-runs": {"task": "money.reap_invoice_runs", "schedule": 60.0},
            # The responsibility ladder once a day, at 03:00 in China (19:00 UTC), after the day's deliveries.
            "responsibility-ladder": {"task": "insight.ladder", "schedule": crontab(minute=0, hour=19)},
        },
    )
    if settings.broker.broker_url.startswith("sqla+sqlite:///"):
        app.conf.broker_transport_options = _sqlite_broker_options(settings.broker.broker_url)
    if settings.broker.broker_url.startswith("redis"):
        # Redis redelivers unacknowledged messages after the visibility timeout; keep it above the longest task.
        app.conf.broker_transport_options = {"visibility_timeout": settings.broker.task_time_limit_s + 60}
    return app


def _sqlite_broker_options(url: str) -> dict[str, object]:
    """The embedded broker is one SQLite file shared by the API (publishing), the worker (polling, acknowledging)
    and beat.  In SQLite's default journal a reader blocks a writer, and its default 5-s lock wait can run out
    on a busy machine: a publish then fails (the job waits for the reaper) or the worker's poll fails (it
    must reconnect).  WAL lets readers and the writer proceed together (the mode is stored in the file),
    and writers wait for each other up to 30 s."""
    path = Path(url.removeprefix("sqla+sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path, timeout=30) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(KOMBU_SCHEMA)
        connection.execute("INSERT OR IGNORE INTO kombu_queue (name) VALUES (?)", (TASK_QUEUE,))
    connection.close()
    return {"connect_args": {"timeout": 30}}


# Celery's default queue: the one every task of this app goes to (its row is made up front in _sqlite_broker_options).
TASK_QUEUE = "celery"

# kombu's SQLAlchemy transport creates its tables on a process's first use (check, then CREATE TABLE) and a
# queue's row likewise (check, then INSERT): a starting worker and the API's first publish raced on both
# ("table kombu_queue already exists", "UNIQUE constraint failed"), and the lost publish left its job queued
# until the reaper came.  Each statement here is atomic and idempotent, and runs with plain sqlite3 before
# kombu is used, so kombu finds everything in place.  Not through kombu's own engine: opened in the worker's
# main process, that engine was inherited by the forked beat, whose every publish then failed with
# "channel disconnected".  The DDL is what kombu 5's models emit on SQLite (tests compare the two).
KOMBU_SCHEMA = """
CREATE TABLE IF NOT EXISTS kombu_queue (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(200),
    UNIQUE (name)
);
CREATE TABLE IF NOT EXISTS kombu_message (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    visible BOOLEAN,
    timestamp DATETIME,
    payload TEXT NOT NULL,
    version SMALLINT NOT NULL,
    queue_id INTEGER,
    CONSTRAINT "FK_kombu_message_queue" FOREIGN KEY(queue_id) REFERENCES kombu_queue (id)
);
CREATE INDEX IF NOT EXISTS ix_kombu_message_timestamp_id ON kombu_message (timestamp, id);
CREATE INDEX IF NOT EXISTS ix_kombu_message_visible ON kombu_message (visible);
CREATE INDEX IF NOT EXISTS ix_kombu_message_timestamp ON kombu_message (timestamp);
"""


celery_app = create_celery()
