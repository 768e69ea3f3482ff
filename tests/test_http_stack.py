"""The one HTTP stack (``server/app.py``): every request, the hot OAuth POSTs and
``/edge/verify`` included, goes through the one middleware stack, and the OAuth endpoints answer
as they always have: security and cache headers on successes and errors, the body limit with and
without Content-Length, NUL refusal, ``WWW-Authenticate`` on ``invalid_client``, 405 with
``Allow``, a generic 500 for an unexpected exception, metrics labelled by route.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette

from conftest import Harness, basic_auth
from gatepass.oauth import token_endpoint

PATHS = ("/oauth/token", "/oauth/introspect", "/oauth/revoke")
FORM_CT = (b"content-type", b"application/x-www-form-urlencoded")
SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@dataclass
class Site:
    h: Harness
    cid: str
    secret: str
    token: str  # a client_credentials JWT access token of the client

    @property
    def auth(self) -> dict[str, str]:
        return basic_auth(self.cid, self.secret)

    def post(self, path: str, **kw: Any) -> Any:
        return self.h.client.post(path, **kw)


@pytest.fixture
def site(gp: Harness) -> Site:
    cid, secret = gp.create_client("svc", grants=["client_credentials"], scopes=["read"])
    assert secret is not None
    r = gp.client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=basic_auth(cid, secret)
    )
    assert r.status_code == 200, r.text
    return Site(gp, cid, secret, r.json()["access_token"])


def _assert_headers(r: Any) -> None:
    for name, value in SECURITY.items():
        assert r.headers[name] == value, (name, r.headers)
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["pragma"] == "no-cache"


# -- one stack ------------------------------------------------------------------------------------
@pytest.fixture
def stack_spy(monkeypatch: pytest.MonkeyPatch) -> Callable[[Starlette], list[tuple[str, str]]]:
    """Record every request that reaches the app's middleware stack."""

    def spy(app: Starlette) -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        inner = app.middleware_stack or app.build_middleware_stack()

        async def recording(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                seen.append((scope["method"], scope["path"]))
            await inner(scope, receive, send)

        monkeypatch.setattr(app, "middleware_stack", recording)
        return seen

    return spy


def test_every_request_goes_through_the_one_middleware_stack(site: Site, stack_spy) -> None:
    seen = stack_spy(site.h.client.app)
    r = site.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=site.auth)
    assert r.status_code == 200
    r = site.post("/oauth/introspect", data={"token": site.token}, headers=site.auth)
    assert r.status_code == 200 and r.json()["active"] is True
    assert site.post("/oauth/revoke", data={"token": "x"}, headers=site.auth).status_code == 200
    assert site.h.client.get("/edge/verify").status_code == 403
    assert site.h.client.get("/oauth/token").status_code == 405
    assert site.h.client.get("/healthz").status_code == 200
    assert seen == [
        ("POST", "/oauth/token"),
        ("POST", "/oauth/introspect"),
        ("POST", "/oauth/revoke"),
        ("GET", "/edge/verify"),
        ("GET", "/oauth/token"),
        ("GET", "/healthz"),
    ]


# -- headers, limits, errors --------------------------------------------------------------------
def test_security_and_cache_headers_on_success_and_error_of_each_endpoint(site: Site) -> None:
    ok = [
        site.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=site.auth),
        site.post("/oauth/introspect", data={"token": site.token}, headers=site.auth),
        site.post("/oauth/revoke", data={"token": "unknown"}, headers=site.auth),
    ]
    refused = [
        site.post("/oauth/token", data={"grant_type": "nope"}, headers=site.auth),
        site.post("/oauth/introspect", data={}, headers=site.auth),
        site.post("/oauth/revoke", data={"token": "x"}),
    ]
    for r in ok:
        assert r.status_code == 200, r.text
        _assert_headers(r)
    assert [r.status_code for r in refused] == [400, 400, 401]
    assert [r.json()["error"] for r in refused] == [
        "unsupported_grant_type",
        "invalid_request",
        "invalid_client",
    ]
    for r in refused:
        _assert_headers(r)


@pytest.mark.parametrize("path", PATHS)
def test_invalid_client_asks_for_basic(site: Site, path: str) -> None:
    form = {"grant_type": "client_credentials", "token": "x"}
    r = site.post(path, data=form, headers=basic_auth(site.cid, "wrong"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert r.headers["www-authenticate"].startswith("Basic ")
    _assert_headers(r)


@pytest.mark.parametrize("path", PATHS)
def test_over_limit_body_is_413_with_or_without_content_length(site: Site, path: str) -> None:
    limit = site.h.svc.settings.max_body_bytes
    headers = {"content-type": "application/x-www-form-urlencoded"}
    r = site.post(path, content=b"a" * (limit + 1), headers=headers)
    assert r.status_code == 413 and r.json()["error"] == "invalid_request"

    def chunks() -> Iterator[bytes]:  # a streamed body: no Content-Length, chunked encoding
        for _ in range(4):
            yield b"a" * (limit // 3)

    r = site.post(path, content=chunks(), headers=headers)
    assert r.status_code == 413 and r.json()["error"] == "invalid_request"
    assert "content-length" not in r.request.headers


@pytest.mark.parametrize("path", PATHS)
def test_nul_in_the_query_is_400(site: Site, path: str) -> None:
    r = site.post(path + "?x=%00", data={"grant_type": "client_credentials"}, headers=site.auth)
    assert r.status_code == 400 and "NUL" in r.json()["error_description"]


@pytest.mark.parametrize("path", PATHS)
def test_other_methods_are_405_with_allow(site: Site, path: str) -> None:
    for method in ("GET", "PUT", "DELETE"):
        r = site.h.client.request(method, path)
        assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
        assert r.headers["allow"] == "POST"


def test_an_unexpected_exception_is_a_generic_500(
    site: Site, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("internal detail 7f3a")

    monkeypatch.setattr(token_endpoint, "token", broken)
    app = site.h.client.app
    with caplog.at_level("ERROR", logger="gatepass.server"):
        answer = site.h.run(_asgi, app, _scope("/oauth/token", site.auth), [b"a=b"])
    assert isinstance(answer.raised, RuntimeError)  # re-raised for the server to log
    assert answer.status == 500
    assert answer.body == (
        b'{"error":"server_error","error_description":"The server could not complete the request."}'
    )
    assert (b"cache-control", b"no-store") in answer.headers
    assert b"Traceback" not in answer.body and b"7f3a" not in answer.body
    assert "unhandled error" in caplog.text and "internal detail 7f3a" in caplog.text
    # rendered outside the middleware stack (Starlette's ServerErrorMiddleware): its own headers
    assert [k for k, _ in answer.headers] == [
        b"cache-control",
        b"pragma",
        b"content-length",
        b"content-type",
    ]


def test_an_unexpected_exception_in_edge_verify_is_the_same_generic_500(
    site: Site, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``EdgeVerify`` runs before ``ServerErrorMiddleware`` and answers as it would."""
    from gatepass.server import edge

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("internal detail 9c1e")

    monkeypatch.setattr(edge, "allowed", broken)
    scope = {**_scope("/edge/verify", {}), "method": "GET"}
    with caplog.at_level("ERROR", logger="gatepass.server"):
        answer = site.h.run(_asgi, site.h.client.app, scope, [b""])
    assert isinstance(answer.raised, RuntimeError)  # re-raised for the server to log
    assert answer.status == 500
    assert answer.body == (
        b'{"error":"server_error","error_description":"The server could not complete the request."}'
    )
    assert [k for k, _ in answer.headers] == [
        b"cache-control",
        b"pragma",
        b"content-length",
        b"content-type",
    ]
    assert "unhandled error" in caplog.text and "internal detail 9c1e" in caplog.text


def test_metrics_label_oauth_requests_by_route_and_count_token_errors(site: Site) -> None:
    # one token request in the fixture, two here; one introspection; one refused revocation
    site.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=site.auth)
    site.post("/oauth/token", data={"grant_type": "nope"}, headers=site.auth)
    site.post("/oauth/introspect", data={"token": site.token}, headers=site.auth)
    site.post("/oauth/revoke", data={"token": "x"})
    text = site.h.client.get("/metrics").text
    assert 'gatepass_request_duration_seconds_count{route="/oauth/token"} 3.0' in text
    assert 'gatepass_request_duration_seconds_count{route="/oauth/introspect"} 1.0' in text
    assert 'gatepass_request_duration_seconds_count{route="/oauth/revoke"} 1.0' in text
    assert 'route="unmatched"' not in text
    assert 'gatepass_token_errors_total{error="unsupported_grant_type"} 1.0' in text
    assert 'gatepass_tokens_issued_total{grant_type="client_credentials"} 2.0' in text


# -- raw ASGI requests ----------------------------------------------------------------------------
@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    raised: Exception | None


def _scope(
    path: str, headers: dict[str, str], *, extra: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path.partition("?")[0],
        "raw_path": path.partition("?")[0].encode(),
        "query_string": path.partition("?")[2].encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver"), FORM_CT, *raw, *(extra or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }


async def _asgi(app: Any, scope: dict[str, Any], chunks: list[bytes]) -> Answer:
    pending = list(chunks)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            body = pending.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(pending)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raised: Exception | None = None
    try:
        await app(scope, receive, send)
    except Exception as exc:  # noqa: BLE001 - compared, not hidden
        raised = exc
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Answer(start["status"], list(start["headers"]), body, raised)


# answered by RejectNul and BodyLimit, outside SecurityHeaders (as always)
REFUSED_BEFORE_ROUTING = ("token nul query", "token streamed 413")


def _cases(site: Site) -> dict[str, tuple[str, dict[str, str], list[bytes]]]:
    """Requests whose answers do not change from one request to the next."""
    big = site.h.svc.settings.max_body_bytes
    bad = basic_auth(site.cid, "wrong")
    return {
        "token bad secret": ("/oauth/token", bad, [b"grant_type=client_credentials"]),
        "token unknown grant": ("/oauth/token", site.auth, [b"grant_type=nope"]),
        "token repeated": ("/oauth/token", site.auth, [b"grant_type=a&grant_type=b"]),
        "token nul body": ("/oauth/token", site.auth, [b"grant_type=%00"]),
        "token bad basic": ("/oauth/token", {"authorization": "Basic !!"}, [b"grant_type=x"]),
        "token nul query": ("/oauth/token?a=%00", site.auth, [b"grant_type=x"]),
        "token streamed 413": ("/oauth/token", site.auth, [b"a" * (big // 2)] * 3),
        "introspect active": ("/oauth/introspect", site.auth, [f"token={site.token}".encode()]),
        "introspect unknown": ("/oauth/introspect", site.auth, [b"token=nope"]),
        "introspect no token": ("/oauth/introspect", site.auth, [b""]),
        "introspect public": ("/oauth/introspect", {}, [f"client_id={site.cid}".encode()]),
        "revoke unknown": ("/oauth/revoke", site.auth, [b"token=nope"]),
        "revoke no client": ("/oauth/revoke", {}, [b"token=nope"]),
        "revoke no token": ("/oauth/revoke", site.auth, [b""]),
    }


def test_each_refusal_is_a_clean_4xx_with_the_stacks_headers(site: Site) -> None:
    app = site.h.client.app
    for name, (path, headers, chunks) in _cases(site).items():
        answer = site.h.run(_asgi, app, _scope(path, headers), chunks)
        assert answer.raised is None, name
        assert answer.status < 500, name
        got = dict(answer.headers)
        if name not in REFUSED_BEFORE_ROUTING:
            for header, value in SECURITY.items():
                assert got[header.encode()] == value.encode(), name
        assert got[b"cache-control"] == b"no-store", name
        if answer.status >= 400:
            assert set(json.loads(answer.body)) == {"error", "error_description"}, name

    too_long = str(site.h.svc.settings.max_body_bytes + 1).encode()
    for path in PATHS:
        for length in (too_long, b"abc"):  # refused by BodyLimit on the header alone
            scope = _scope(path, site.auth, extra=[(b"content-length", length)])
            answer = site.h.run(_asgi, app, dict(scope), [b"x=1"])
            assert answer.status == (413 if length == too_long else 400)
            assert json.loads(answer.body)["error"] == "invalid_request"


def test_a_server_process_collects_young_garbage_less_often(
    make_settings: Callable[..., Any],
) -> None:
    """``freeze_gc`` (``gatepass serve``): what is alive after start-up is frozen, and the
    youngest generation is collected every GC_YOUNG_THRESHOLD allocations, not every 700; an
    app made without it (tests, embedding) leaves the process's collector as it was."""
    import gc

    from starlette.testclient import TestClient

    from gatepass.server.app import GC_YOUNG_THRESHOLD, create_app

    before = gc.get_threshold()
    try:
        with TestClient(create_app(make_settings())) as c:
            assert c.get("/healthz").status_code == 200
            assert gc.get_threshold() == before
        with TestClient(create_app(make_settings(), freeze_gc=True)) as c:
            assert c.get("/healthz").status_code == 200
            assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, before[1], before[2])
            assert gc.get_freeze_count() > 0
            assert GC_YOUNG_THRESHOLD > before[0]
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
