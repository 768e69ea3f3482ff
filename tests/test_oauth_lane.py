"""The OAuth lane (``server/oauth_lane.py``): POST /oauth/token, /oauth/introspect and
/oauth/revoke answered before FastAPI, with the same answers as through FastAPI.

The lane must be taken (a spy on FastAPI's middleware stack sees none of these POSTs), and what it
answers must not diverge from the FastAPI app: security and cache headers on successes and
errors, the body limit with and without Content-Length, NUL refusal, ``WWW-Authenticate`` on
``invalid_client``, a generic 500 for an unexpected exception, metrics labelled by route. The
differential test sends the same raw ASGI request through the app and straight to FastAPI (the
path every request took before the lane) and compares status, headers and body byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import Harness, basic_auth
from gatepass.oauth import token_endpoint
from gatepass.server.app import create_app
from gatepass.settings import Settings

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


def _assert_lane_headers(r: Any) -> None:
    for name, value in SECURITY.items():
        assert r.headers[name] == value, (name, r.headers)
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["pragma"] == "no-cache"


# -- the lane is taken ----------------------------------------------------------------------------
@pytest.fixture
def fastapi_spy(monkeypatch: pytest.MonkeyPatch) -> Callable[[FastAPI], list[tuple[str, str]]]:
    """Record every request that reaches FastAPI's own middleware stack."""

    def spy(app: FastAPI) -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        inner = app.middleware_stack or app.build_middleware_stack()

        async def recording(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                seen.append((scope["method"], scope["path"]))
            await inner(scope, receive, send)

        monkeypatch.setattr(app, "middleware_stack", recording)
        return seen

    return spy


def test_the_lane_answers_the_three_posts_and_fastapi_the_rest(site: Site, fastapi_spy) -> None:
    seen = fastapi_spy(site.h.client.app)
    r = site.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=site.auth)
    assert r.status_code == 200
    r = site.post("/oauth/introspect", data={"token": site.token}, headers=site.auth)
    assert r.status_code == 200 and r.json()["active"] is True
    assert site.post("/oauth/revoke", data={"token": "x"}, headers=site.auth).status_code == 200
    assert seen == []
    assert site.h.client.get("/oauth/token").status_code == 405
    assert site.h.client.get("/healthz").status_code == 200
    assert seen == [("GET", "/oauth/token"), ("GET", "/healthz")]


def test_before_start_up_the_posts_go_to_fastapi_as_before(
    make_settings: Callable[..., Settings], fastapi_spy
) -> None:
    app = create_app(make_settings())  # no lifespan run: no services yet
    seen = fastapi_spy(app)
    client = TestClient(app, raise_server_exceptions=False)
    r = client.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 500 and r.json()["error"] == "server_error"
    assert seen == [("POST", "/oauth/token")]


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
        _assert_lane_headers(r)
    assert [r.status_code for r in refused] == [400, 400, 401]
    assert [r.json()["error"] for r in refused] == [
        "unsupported_grant_type",
        "invalid_request",
        "invalid_client",
    ]
    for r in refused:
        _assert_lane_headers(r)


@pytest.mark.parametrize("path", PATHS)
def test_invalid_client_asks_for_basic(site: Site, path: str) -> None:
    form = {"grant_type": "client_credentials", "token": "x"}
    r = site.post(path, data=form, headers=basic_auth(site.cid, "wrong"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert r.headers["www-authenticate"].startswith("Basic ")
    _assert_lane_headers(r)


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
def test_other_methods_still_get_fastapis_405(site: Site, path: str) -> None:
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
    assert isinstance(answer.raised, RuntimeError)  # re-raised for the server to log, as FastAPI
    assert answer.status == 500
    assert answer.body == (
        b'{"error":"server_error","error_description":"The server could not complete the request."}'
    )
    assert (b"cache-control", b"no-store") in answer.headers
    assert b"Traceback" not in answer.body and b"7f3a" not in answer.body
    assert "unhandled error" in caplog.text and "internal detail 7f3a" in caplog.text
    # and exactly what FastAPI answered (rendered outside the middleware: no security headers)
    plain = site.h.run(_asgi, _through_fastapi(app), _scope("/oauth/token", site.auth), [b"a=b"])
    assert isinstance(plain.raised, RuntimeError)
    assert (answer.status, answer.headers, answer.body) == (plain.status, plain.headers, plain.body)


def test_metrics_label_lane_requests_by_route_and_count_token_errors(site: Site) -> None:
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


# -- byte for byte against FastAPI ----------------------------------------------------------------
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


def _through_fastapi(app: Any) -> Callable[..., Any]:
    async def call(scope: Any, receive: Any, send: Any) -> None:
        await FastAPI.__call__(app, scope, receive, send)  # skips EdgeFirstFastAPI's own __call__

    return call


def test_lane_answers_are_byte_for_byte_those_of_fastapi(site: Site, fastapi_spy) -> None:
    app = site.h.client.app
    seen = fastapi_spy(app)
    through_fastapi = _through_fastapi(app)
    for name, (path, headers, chunks) in _cases(site).items():
        lane = site.h.run(_asgi, app, _scope(path, headers), chunks)
        assert seen == [], name
        plain = site.h.run(_asgi, through_fastapi, _scope(path, headers), chunks)
        assert seen == [("POST", path.partition("?")[0])], name
        seen.clear()
        assert (lane.status, lane.headers, lane.body) == (plain.status, plain.headers, plain.body)
        assert lane.raised is None and plain.raised is None, name
        assert lane.status < 500, name

    too_long = str(site.h.svc.settings.max_body_bytes + 1).encode()
    for path in PATHS:
        for length in (too_long, b"abc"):  # refused by BodyLimit on the header alone
            scope = _scope(path, site.auth, extra=[(b"content-length", length)])
            lane = site.h.run(_asgi, app, dict(scope), [b"x=1"])
            plain = site.h.run(_asgi, through_fastapi, dict(scope), [b"x=1"])
            assert (lane.status, lane.headers, lane.body) == (
                plain.status,
                plain.headers,
                plain.body,
            )
            assert lane.status == (413 if length == too_long else 400)
