"""The embedded broker (kombu's SQLAlchemy transport on one SQLite file) under concurrent publishers and a
consumer: every message arrives once, no publish fails on a locked database."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from kombu import Connection, Exchange, Queue

from core.celery_app import KOMBU_SCHEMA, TASK_QUEUE, _sqlite_broker_options, celery_app


def test_the_broker_file_is_in_wal_mode_with_a_long_lock_wait(tmp_path: Path) -> None:
    options = _sqlite_broker_options(f"sqla+sqlite:///{tmp_path / 'sub' / 'broker.db'}")
    assert options == {"connect_args": {"timeout": 30}}
    with sqlite3.connect(tmp_path / "sub" / "broker.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


def test_concurrent_publishers_and_a_consumer_lose_nothing(tmp_path: Path) -> None:
    url = f"sqla+sqlite:///{tmp_path / 'broker.db'}"
    options = _sqlite_broker_options(url)
    queue = Queue("race", Exchange("race", type="direct"), routing_key="race")
    publishers, per_publisher = 4, 40
    errors: list[BaseException] = []
    received: list[int] = []

    def publish(first: int) -> None:
        try:
            with Connection(url, transport_options=options) as connection:
                producer = connection.Producer()
                for n in range(first, first + per_publisher):
                    producer.publish({"n": n}, exchange=queue.exchange, routing_key="race", declare=[queue])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=publish, args=(i * per_publisher,)) for i in range(publishers)]
    with Connection(url, transport_options=options) as connection:
        simple = connection.SimpleQueue(queue)
        for thread in threads:
            thread.start()
        while len(received) < publishers * per_publisher:
            message = simple.get(block=True, timeout=30)
            received.append(message.payload["n"])
            message.ack()
        simple.close()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(received) == list(range(publishers * per_publisher))


def _schema(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    connection.close()
    return {name: " ".join(sql.replace("IF NOT EXISTS ", "").split()) for name, sql in rows}


def test_the_tables_made_up_front_are_the_ones_kombu_makes(tmp_path: Path) -> None:
    """kombu must find its own tables: the same columns, constraints and indexes as it would create."""
    kombu_made = tmp_path / "kombu.db"
    with Connection(f"sqla+sqlite:///{kombu_made}") as connection:
        queue = Queue(TASK_QUEUE, routing_key=TASK_QUEUE)
        connection.Producer().publish({"n": 1}, routing_key=TASK_QUEUE, declare=[queue])
    ours = tmp_path / "ours.db"
    _sqlite_broker_options(f"sqla+sqlite:///{ours}")
    assert _schema(ours) == _schema(kombu_made)
    with sqlite3.connect(ours) as connection:
        assert connection.execute("SELECT name FROM kombu_queue").fetchall() == [(TASK_QUEUE,)]
    connection.close()
    assert celery_app.conf.task_default_queue == TASK_QUEUE
    assert KOMBU_SCHEMA.count("IF NOT EXISTS") == 5  # every table and index: idempotent


def _open_and_publish(url: str, start: object, failures: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    try:
        options = _sqlite_broker_options(url)
        with Connection(url, transport_options=options) as connection:
            queue = Queue(TASK_QUEUE, routing_key=TASK_QUEUE)
            connection.Producer().publish({"n": 1}, routing_key=TASK_QUEUE, declare=[queue])
    except BaseException as error:  # reported to the parent
        failures.put(repr(error))  # type: ignore[attr-defined]


def test_processes_that_open_a_new_broker_file_at_once_all_publish(tmp_path: Path) -> None:
    """The API's first publish and a starting worker race to create kombu's tables and the task queue's row
    (without the tables made up front this failed 3 rounds out of 3: 'table kombu_queue already exists')."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # fresh processes: no engine kombu cached in this one
    for round_ in range(3):
        path = tmp_path / f"broker{round_}.db"
        start, failures = context.Event(), context.Queue()
        processes = [
            context.Process(target=_open_and_publish, args=(f"sqla+sqlite:///{path}", start, failures))
            for _ in range(6)
        ]
        for process in processes:
            process.start()
        start.set()
        for process in processes:
            process.join(timeout=60)
        errors = [failures.get() for _ in range(failures.qsize())] if not failures.empty() else []
        assert errors == []
        assert [p.exitcode for p in processes] == [0] * 6
        with sqlite3.connect(path) as connection:
            assert connection.execute("SELECT count(*) FROM kombu_message").fetchone()[0] == 6
        connection.close()
