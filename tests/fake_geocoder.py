"""A local stand-in for a Nominatim server (the service cannot reach the internet from its tests): `GET /search`
answers JSON places for the queries it knows, as Nominatim does, and records what was asked."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# Queries the fake knows (matched on a lower-cased substring), and what Nominatim would answer for them.
PLACES: dict[str, list[dict[str, Any]]] = {
    "waigaoqiao": [
        {
            "place_id": 1,
            "lat": "31.3563",
            "lon": "121.5932",
            "display_name": "外高桥保税区, 浦东新区, 上海市, 中国 (Waigaoqiao, Pudong, Shanghai)",
        },
        {"place_id": 2, "lat": "31.3401", "lon": "121.6210", "display_name": "外高桥港区四期, 浦东新区, 上海市, 中国"},
    ],
}


@dataclass
class FakeGeocoder:
    url: str
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)


@contextmanager
def fake_nominatim(*, broken: bool = False) -> Iterator[FakeGeocoder]:
    """A fake Nominatim on a free port; `broken`: it answers 500 to everything."""
    state = FakeGeocoder(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            state.requests.append(query)
            state.user_agents.append(self.headers.get("User-Agent", ""))
            if broken or parts.path != "/search":
                self._answer(500, {"error": "down"})
                return
            text = (query.get("q") or [""])[0].lower()
            found = next((places for key, places in PLACES.items() if key in text), [])
            self._answer(200, found)

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
