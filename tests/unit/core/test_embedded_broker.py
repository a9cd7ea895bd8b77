"""The embedded broker (kombu's SQLAlchemy transport on one SQLite file) under concurrent publishers and a
consumer: every message arrives once, no publish fails on a locked database."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from kombu import Connection, Exchange, Queue

from core.celery_app import _sqlite_broker_options


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
