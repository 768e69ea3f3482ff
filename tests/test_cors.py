"""CORS for browser apps on other origins (server/cors.py): the OAuth endpoints a page calls,
``/.well-known/*``, and that nothing else (introspection, the admin API) answers CORS at all."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from conftest import Harness, basic_auth
from dpop_keys import ProofKey

APP = "https://app.example"
EVIL = "https://evil.example"
TOKEN_URL = "http://testserver/oauth/token"


@pytest.fixture
def gp(make_harness: Callable[..., Harness]) -> Harness:
    h = make_harness(allowed_origins=APP, dpop_nonce=True)
    h.create_user("bob")
    return h


def preflight(h: Harness, path: str, origin: str, method: str = "POST") -> httpx.Response:
    return h.client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, dpop, content-type",
        },
    )


def no_cors(r: httpx.Response) -> None:
    assert not [k for k in r.headers if k.startswith("access-control-")], r.headers


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/oauth/token", "POST"),
        ("/oauth/revoke", "POST"),
        ("/oauth/userinfo", "GET, POST"),  # CORS is by path, whether or not the route exists
    ],
)
def test_oauth_preflight_from_an_allowed_origin(gp: Harness, path: str, methods: str) -> None:
    r = preflight(gp, path, APP)
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == APP
    assert r.headers["access-control-allow-methods"] == methods
    allowed = {h.strip() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "dpop", "content-type"} <= allowed
    assert "access-control-allow-credentials" not in r.headers  # never with cookies
    assert "Origin" in r.headers["vary"]


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke", "/oauth/userinfo"])
@pytest.mark.parametrize("origin", [EVIL, "null", APP + ".evil.example", APP.upper()])
def test_oauth_preflight_from_any_other_origin_is_refused(
    gp: Harness, path: str, origin: str
) -> None:
    r = preflight(gp, path, origin)
    assert r.status_code == 403
    no_cors(r)


def test_token_request_from_an_allowed_origin_exposes_the_dpop_headers(gp: Harness) -> None:
    cid, secret = gp.create_client("spa-backend", grants=["client_credentials"])
    key = ProofKey()
    headers = {**basic_auth(cid, secret), "Origin": APP, "DPoP": key.proof("POST", TOKEN_URL)}
    form = {"grant_type": "client_credentials"}
    r = gp.client.post("/oauth/token", data=form, headers=headers)
    assert r.status_code == 400 and r.json()["error"] == "use_dpop_nonce"
    assert r.headers["access-control-allow-origin"] == APP
    exposed = {h.strip() for h in r.headers["access-control-expose-headers"].split(",")}
    assert exposed == {"dpop-nonce", "www-authenticate"}
    assert "access-control-allow-credentials" not in r.headers
    nonce = r.headers["dpop-nonce"]
    headers["DPoP"] = key.proof("POST", TOKEN_URL, nonce=nonce)
    r = gp.client.post("/oauth/token", data=form, headers=headers)
    assert r.status_code == 200 and r.json()["token_type"] == "DPoP"
    assert r.headers["access-control-allow-origin"] == APP
    # an error with a challenge: the page's script may read WWW-Authenticate
    bad = gp.client.post(
        "/oauth/token", data=form, headers={**basic_auth(cid, "wrong"), "Origin": APP}
    )
    assert bad.status_code == 401 and "www-authenticate" in bad.headers
    assert bad.headers["access-control-allow-origin"] == APP


def test_requests_from_other_origins_get_no_cors_headers(gp: Harness) -> None:
    cid, secret = gp.create_client("svc", grants=["client_credentials"])
    form = {"grant_type": "client_credentials"}
    r = gp.client.post(
        "/oauth/token", data=form, headers={**basic_auth(cid, secret), "Origin": EVIL}
    )
    assert r.status_code == 200  # the server answers as to any client; the browser hides it
    no_cors(r)
    token = gp.access_token("bob")
    r = gp.client.post("/oauth/revoke", data={"token": token}, headers={"Origin": EVIL})
    no_cors(r)
    r = gp.client.post("/oauth/revoke", data={"token": "x"}, headers={"Origin": APP})
    assert r.headers["access-control-allow-origin"] == APP


@pytest.mark.parametrize(
    "path", ["/.well-known/jwks.json", "/.well-known/oauth-authorization-server"]
)
@pytest.mark.parametrize("origin", [APP, EVIL])
def test_discovery_and_keys_are_readable_from_any_origin(
    gp: Harness, path: str, origin: str
) -> None:
    r = gp.client.get(path, headers={"Origin": origin})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers
    pre = preflight(gp, path, origin, "GET")
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"
    assert pre.headers["access-control-allow-methods"] == "GET"


@pytest.mark.parametrize("path", ["/oauth/introspect", "/admin/clients", "/api/profile"])
def test_other_endpoints_answer_no_cors_at_all(gp: Harness, path: str) -> None:
    no_cors(preflight(gp, path, APP))
    no_cors(gp.client.post(path, headers={"Origin": APP}))


def test_the_cookie_endpoints_keep_credentials(gp: Harness) -> None:
    r = preflight(gp, "/auth/refresh", APP)
    assert r.status_code == 204
    assert r.headers["access-control-allow-credentials"] == "true"
    assert "x-requested-with" in r.headers["access-control-allow-headers"]
    assert preflight(gp, "/auth/refresh", EVIL).status_code == 403
