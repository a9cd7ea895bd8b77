"""No request body field shares a name with a dependency: Litestar reads a client's error in such a field as a fault
in the dependency and answers 500 (it did, for `channels` of PUT /me/notification-settings)."""

from __future__ import annotations

import msgspec
from litestar.routes import HTTPRoute

from api.app import create_app


def test_no_body_field_is_named_like_a_dependency() -> None:
    app = create_app()
    clashes = []
    checked = 0
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is None:
                continue
            body = data.annotation
            if not (isinstance(body, type) and issubclass(body, msgspec.Struct)):
                continue
            checked += 1
            fields = {f.encode_name for f in msgspec.structs.fields(body)}
            names = set(handler.resolve_dependencies())
            clashes += [f"{route.path} {sorted(handler.http_methods)} {name}" for name in sorted(fields & names)]
    assert checked > 20  # the walk found the bodies it is about
    assert clashes == []
