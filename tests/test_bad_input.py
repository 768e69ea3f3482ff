"""Bad input on every endpoint: malformed bodies, wrong content types, oversize bodies, NUL bytes,
invalid UTF-8, lone surrogates, huge headers, repeated form parameters, broken HTTP Basic
credentials, out-of-range query parameters, unknown paths and wrong methods.

Every answer is a 4xx (never a 5xx) whose JSON body has ``error`` and ``error_description``, and
no answer carries a stack trace, the submitted password or a token. The endpoints are read from
the running app (its route table), so a new route gets the generic checks without being
listed here. The body checks start from a body each endpoint accepts (a control shows it does)
and change one thing at a time. Checks that reach the database also run on PostgreSQL, which
refuses NUL and lone surrogates in text where SQLite does not.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from conftest import PASSWORD, Harness
from oidc_codes import Code, new_code, rp, user_id

SENT_PASSWORD = "Sekr1t-passw0rd-never-echoed"  # a password only these requests ever carry
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
TWO_MIB = 2 * 1024 * 1024
FORM_CT = {"content-type": "application/x-www-form-urlencoded"}
JSON_CT = {"content-type": "application/json"}
BAD_TEXT = {
    "nul": "\x00",
    "lone-high-surrogate": "\ud800",
    "lone-low-surrogate": "\udfff",
    "reversed-surrogate-pair": "\ude00\ud83d",
}


# -- the site under test --------------------------------------------------------------------------
@dataclass
class Site:
    """The app with alice (admin) and bob logged in, and a confidential client ``rs``.

    ``secrets`` (tokens, passwords, the client secret) must never appear in an error answer."""

    h: Harness
    admin: str = ""
    bob: str = ""
    refresh: str = ""
    client_id: str = ""
    client_secret: str = ""
    rs_token: str = ""  # a client_credentials access token of the client rs
    bob_id: str = ""
    rp_id: str = ""  # a public relying party (the authorization code grant)
    code: Code | None = None  # an unused authorization code of rp_id for bob
    secrets: list[str] = field(default_factory=list)

    @property
    def client(self) -> Any:
        return self.h.client

    def bearer(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin}"}

    def client_basic(self) -> dict[str, str]:
        return basic(f"{self.client_id}:{self.client_secret}".encode())

    def routes(self) -> dict[str, set[str]]:
        """Path template -> methods, as the running app describes itself."""
        table: dict[str, set[str]] = {}
        for route in self.client.app.routes:
            table.setdefault(route.path, set()).update(route.methods or ())
        return table


def open_site(h: Harness) -> Site:
    h.create_user("alice", roles=("admin",))
    h.create_user("bob")
    login = h.login("bob").json()
    cid, secret = h.create_client("rs", grants=["client_credentials"], scopes=["profile"])
    site = Site(h, h.admin_token(), login["access_token"], login["refresh_token"])
    site.client_id, site.client_secret = cid, secret or ""
    site.bob_id = h.run(h.svc.users.by_name, "bob").id
    r = h.client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=site.client_basic()
    )
    assert r.status_code == 200, r.text
    site.rs_token = r.json()["access_token"]
    site.rp_id, _ = rp(h, public=True)
    site.code = new_code(h, site.rp_id, user_id(h, "bob"), scope=("openid", "profile"))
    site.secrets = [site.admin, site.bob, site.refresh, site.client_secret, site.rs_token]
    site.secrets += [PASSWORD, SENT_PASSWORD, site.code.code, site.code.verifier]
    return site


@pytest.fixture
def site(make_harness: Callable[..., Harness]) -> Site:
    return open_site(make_harness())


@pytest.fixture
def site_on_each_db(make_harness: Callable[..., Harness], database_url: str) -> Site:
    return open_site(make_harness(database_url=database_url))


# -- helpers --------------------------------------------------------------------------------------
# the hosted pages for browsers answer with an HTML error page (role="alert"), not JSON
HOSTED_PAGES = ("/oauth/authorize", "/oauth/logout", "/account", "/console")
# the signed-in pages: without a session they send the browser to sign in, whatever the request
SIGNED_IN_PAGES = ("/account/", "/console")


def sent_to_sign_in(r: httpx.Response) -> bool:
    return (
        r.request.url.path.startswith(SIGNED_IN_PAGES)
        and r.status_code == 303
        and r.headers.get("location", "").partition("?")[0] == "/account/login"
    )


def assert_clean_error(
    site: Site, r: httpx.Response, status: int | tuple[int, ...] | None = None
) -> dict[str, Any]:
    """A 4xx JSON error with ``error`` and ``error_description``; no trace, password or token.
    On a hosted page: a 4xx HTML error page, as clean."""
    where = (r.request.method, str(r.request.url)[:120], r.status_code, r.text[:300])
    assert 400 <= r.status_code < 500, where
    if status is not None:
        assert r.status_code in (status if isinstance(status, tuple) else (status,)), where
    if r.request.url.path.startswith(HOSTED_PAGES) and r.headers.get("content-type", "").startswith(
        "text/html"
    ):
        assert 'role="alert"' in r.text and "Traceback" not in r.text, where
        assert not any(secret in r.text for secret in site.secrets), where
        return {"error": "page", "error_description": ""}
    assert r.headers.get("content-type", "").startswith("application/json"), where
    body = r.json()
    assert isinstance(body, dict), where
    assert isinstance(body.get("error"), str) and body["error"], where
    assert isinstance(body.get("error_description"), str), where
    everything = r.text + "\n" + "\n".join(f"{k}: {v}" for k, v in r.headers.items())
    assert "Traceback" not in everything and 'File "' not in everything, where
    for secret in site.secrets:
        assert secret not in everything, where
    return body


def concrete(path: str, value: str = "x") -> str:
    """``path`` with each ``{param}`` replaced by ``value``."""
    return re.sub(r"\{[^}]+\}", value, path)


def basic(raw: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def form_bytes(fields: dict[str, str]) -> bytes:
    return "&".join(f"{k}={v}" for k, v in fields.items()).encode()


# -- every endpoint: methods, paths, sizes, headers -----------------------------------------------
def test_the_route_table_is_read_from_the_app(site: Site) -> None:
    routes = site.routes()
    for path, method in (
        ("/oauth/token", "POST"),
        ("/oauth/introspect", "POST"),
        ("/oauth/revoke", "POST"),
        ("/oauth/userinfo", "GET"),
        ("/oauth/userinfo", "POST"),
        ("/.well-known/openid-configuration", "GET"),
        ("/api/profile", "GET"),
        ("/admin/users", "POST"),
        ("/admin/users/{user_id}/sessions", "GET"),
        ("/admin/keys/rotate", "POST"),
        ("/admin/events", "GET"),
        ("/.well-known/jwks.json", "GET"),
        ("/.well-known/oauth-authorization-server", "GET"),
        ("/healthz", "GET"),
        ("/readyz", "GET"),
        ("/metrics", "GET"),
    ):
        assert method in routes.get(path, set()), (path, method)


def test_wrong_method_on_every_endpoint_is_405(site: Site) -> None:
    for path in site.routes():
        # every route the concrete path reaches (``/auth/sessions/end-others`` is also a
        # ``/auth/sessions/{sid}``): a method one of them takes is not a wrong method
        methods: set[str] = set()
        for route in site.client.app.routes:
            if route.path_regex.fullmatch(concrete(path)):
                methods |= route.methods or set()
        for method in sorted(set(METHODS) - methods):
            r = site.client.request(method, concrete(path), headers=site.bearer())
            assert assert_clean_error(site, r, 405)["error"] == "method_not_allowed"


def test_unknown_path_is_404(site: Site) -> None:
    for path in (
        "/nope",
        "/oauth/token/extra",
        "/admin",
        "/api/Profile",
        "/.well-known/",
        "/admin/users/x/sessions/y",
        "/%ff%fe",
        "/" + "a" * 10_000,
    ):
        for method in METHODS:
            r = site.client.request(method, path, headers=site.bearer())
            assert assert_clean_error(site, r, 404)["error"] == "not_found"


def test_two_mib_body_is_413_on_every_endpoint(site: Site) -> None:
    big = b"a" * TWO_MIB
    targets = [(m, concrete(p)) for p, ms in site.routes().items() for m in ms]
    targets += [("POST", "/nope"), ("GET", "/nope")]
    for method, path in targets:
        for headers in (FORM_CT, JSON_CT, {}):
            r = site.client.request(method, path, content=big, headers={**site.bearer(), **headers})
            assert_clean_error(site, r, 413)


def test_two_mib_body_without_content_length_is_413(site: Site) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(TWO_MIB // 32768):
            yield b"a" * 32768

    for path, headers in (("/oauth/token", FORM_CT), ("/admin/users", JSON_CT)):
        r = site.client.post(path, content=chunks(), headers={**site.bearer(), **headers})
        assert "content-length" not in r.request.headers
        assert_clean_error(site, r, 413)


def test_content_length_that_is_not_a_number_is_400(site: Site) -> None:
    for length in ("abc", "1e6", "0x10", "", " "):
        headers = {**FORM_CT, "content-length": length}
        assert_clean_error(site, site.client.post("/oauth/token", headers=headers), 400)


def test_huge_header_values_on_every_endpoint(site: Site) -> None:
    """Whatever the endpoint makes of them, huge headers never break it (TestClient has no
    header size limit; a real server stops far earlier)."""
    huge = "A" * 300_000
    for path, methods in site.routes().items():
        for method in methods:
            for headers in (
                {"Authorization": "Bearer " + huge},
                {"Authorization": "Basic " + huge},
                {"User-Agent": huge, "X-Junk": huge, "Cookie": "gp=" + huge, "Origin": huge},
            ):
                r = site.client.request(
                    method, concrete(path), headers=headers, follow_redirects=False
                )
                assert r.status_code < 500, (method, path, r.status_code)
                if r.status_code >= 400:
                    assert_clean_error(site, r)


def test_huge_bearer_token_is_401(site: Site) -> None:
    r = site.client.get("/api/profile", headers={"Authorization": "Bearer " + "A" * 300_000})
    assert assert_clean_error(site, r, 401)["error"] == "invalid_token"


def test_huge_user_agent_on_a_failed_login(site: Site) -> None:
    r = site.client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "bob", "password": SENT_PASSWORD},
        headers={"User-Agent": "U" * 300_000},
    )
    assert assert_clean_error(site, r, 400)["error"] == "invalid_grant"


def test_odd_path_parameters_on_every_endpoint(site_on_each_db: Site) -> None:
    site = site_on_each_db
    with_params = [(p, ms) for p, ms in site.routes().items() if "{" in p]
    assert with_params
    for value in ("%00", "a%00b", "%ED%A0%80", "%ff", "%2e%2e%2f%2e%2e", "x" * 5_000, "%0d%0a"):
        for path, methods in with_params:
            for method in methods:
                r = site.client.request(
                    method, concrete(path, value), headers=site.bearer(), follow_redirects=False
                )
                if not sent_to_sign_in(r):
                    assert_clean_error(site, r)


# -- /admin/events query parameters ---------------------------------------------------------------
EVENTS_QUERIES_OUT_OF_RANGE = [
    "after=-1",
    f"after={2**62 + 1}",
    f"after={2**64}",
    "after=abc",
    "after=1.5",
    "after=%00",
    "limit=0",
    "limit=501",
    "limit=-1",
    "limit=1e3",
    "limit=ten",
    "limit=%ff",
    "type=" + "t" * 65,
    "type=a%00b",
    "type=%00",
]


def test_admin_events_query_out_of_range_is_400(site_on_each_db: Site) -> None:
    site = site_on_each_db
    for query in EVENTS_QUERIES_OUT_OF_RANGE:
        r = site.client.get(f"/admin/events?{query}", headers=site.bearer())
        assert_clean_error(site, r, 400)


def test_admin_events_control(site: Site) -> None:
    r = site.client.get("/admin/events?after=0&limit=500&type=lockout", headers=site.bearer())
    assert r.status_code == 200 and r.json()["events"] == []


# -- form bodies: /oauth/token, /oauth/introspect, /oauth/revoke ----------------------------------
@dataclass(frozen=True)
class FormEndpoint:
    path: str
    valid: Callable[[Site], dict[str, str]]  # a form the endpoint accepts
    client_auth: bool  # whether the valid request authenticates the client with Basic
    name: str = ""  # the test id, when the path alone does not tell

    def post(self, site: Site, body: bytes, headers: dict[str, str] | None = None) -> Any:
        auth = site.client_basic() if self.client_auth else {}
        hdrs = {**auth, **(FORM_CT if headers is None else headers)}
        return site.client.post(self.path, content=body, headers=hdrs)


FORM_ENDPOINTS = [
    FormEndpoint(
        "/oauth/token",
        lambda s: {"grant_type": "password", "username": "bob", "password": PASSWORD},
        client_auth=False,
    ),
    FormEndpoint(
        "/oauth/token",
        lambda s: {**s.code.form(), "client_id": s.rp_id} if s.code else {},
        client_auth=False,
        name="/oauth/token authorization_code",
    ),
    FormEndpoint("/oauth/introspect", lambda s: {"token": s.bob}, client_auth=True),
    FormEndpoint("/oauth/revoke", lambda s: {"token": s.rs_token}, client_auth=True),
]
_FORM_IDS = [e.name or e.path for e in FORM_ENDPOINTS]


def _need(site: Site, path: str, method: str = "POST") -> None:
    assert method in site.routes().get(path, set()), f"the app does not serve {method} {path}"


@pytest.mark.parametrize("e", FORM_ENDPOINTS, ids=_FORM_IDS)
def test_form_control_valid_body_is_accepted(site: Site, e: FormEndpoint) -> None:
    _need(site, e.path)
    r = e.post(site, form_bytes(e.valid(site)))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("e", FORM_ENDPOINTS, ids=_FORM_IDS)
def test_form_wrong_content_type_is_400(site: Site, e: FormEndpoint) -> None:
    _need(site, e.path)
    fields = e.valid(site)
    for content_type in (
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded-x",
        None,
    ):
        headers = {"content-type": content_type} if content_type else {}
        for body in (form_bytes(fields), json.dumps(fields).encode()):
            r = e.post(site, body, headers)
            assert assert_clean_error(site, r, 400)["error"] == "invalid_request"


@pytest.mark.parametrize("e", FORM_ENDPOINTS, ids=_FORM_IDS)
def test_form_malformed_is_400(site: Site, e: FormEndpoint) -> None:
    _need(site, e.path)
    for body in (b"", b"%%%", b"token", b"=&=&=", b"&&&", b"\x00", b"a=%0"):
        assert_clean_error(site, e.post(site, body), 400)


@pytest.mark.parametrize("e", FORM_ENDPOINTS, ids=_FORM_IDS)
def test_form_nul_in_each_field_is_400(site: Site, e: FormEndpoint) -> None:
    _need(site, e.path)
    fields = e.valid(site)
    for name in [*fields, "scope", "client_id", "token_type_hint"]:
        for nul in ("%00", "\x00"):
            value = fields.get(name, "value")
            changed = {**fields, name: value[:3] + nul + value[3:]}
            assert_clean_error(site, e.post(site, form_bytes(changed)), 400)
    body = form_bytes(fields) + b"&na%00me=x"
    assert_clean_error(site, e.post(site, body), 400)


@pytest.mark.parametrize("e", FORM_ENDPOINTS, ids=_FORM_IDS)
def test_form_invalid_utf8_is_400(site: Site, e: FormEndpoint) -> None:
    _need(site, e.path)
    good = form_bytes(e.valid(site))
    for extra in (b"&x=\xff", b"&x=%ff", b"&x=%ED%A0%80", b"&x=%C3", b"&x\xc3\x28=1"):
        assert_clean_error(site, e.post(site, good + extra), 400)


@pytest.mark.parametrize("e", FORM_ENDPOINTS, ids=_FORM_IDS)
def test_form_repeated_parameter_is_400(site: Site, e: FormEndpoint) -> None:
    _need(site, e.path)
    fields = e.valid(site)
    for name in [*fields, "scope", "client_id"]:
        again = f"&{name}=again" if name in fields else f"&{name}=a&{name}=b"
        r = e.post(site, form_bytes(fields) + again.encode())
        assert assert_clean_error(site, r, 400)["error"] == "invalid_request"


BROKEN_BASIC = [
    "Basic",
    "basic",
    "Basic !!!!",
    "Basic ====",
    "Basic Zm9v=YmFy",
    "Basic %%%",
    "Basic ",
    "Basic QQQQQQ",  # a bad length
    "Basic " + base64.b64encode(b"no-colon-here").decode(),
    "Basic " + base64.b64encode(b"\xff\xfe:secret").decode(),
    "Basic " + base64.b64encode(b"gpc_x:\xc3").decode(),
    "Basic " + base64.b64encode(b"gpc\x00x:secret").decode(),
    "Basic " + base64.b64encode(b"gpc%00x:secret").decode(),
    "Basic " + base64.b64encode(b"gpc_x:sec%00ret").decode(),
    "Basic " + base64.b64encode(b"%ED%A0%80:secret").decode(),
    "Basic " + base64.b64encode(b":").decode(),
    "Basic " + base64.b64encode(b"x" * 300 + b":" + b"y" * 300).decode(),
]


@pytest.mark.parametrize("e", FORM_ENDPOINTS, ids=_FORM_IDS)
def test_form_broken_basic_credentials(site_on_each_db: Site, e: FormEndpoint) -> None:
    site = site_on_each_db
    _need(site, e.path)
    body = form_bytes(e.valid(site))
    for authorization in BROKEN_BASIC:
        r = site.client.post(
            e.path, content=body, headers={**FORM_CT, "Authorization": authorization}
        )
        body_json = assert_clean_error(site, r, (400, 401))
        assert body_json["error"] in ("invalid_client", "invalid_request"), authorization


@pytest.mark.parametrize("e", FORM_ENDPOINTS, ids=_FORM_IDS)
def test_form_basic_header_with_non_ascii_or_nul_bytes(site: Site, e: FormEndpoint) -> None:
    _need(site, e.path)
    body = form_bytes(e.valid(site))
    for raw in (b"Basic \xe9\xe9", b"Basic \xff", b"Basic Zm9v\x00", b"Basic Zm9vOmJhcg==\xe9"):
        r = site.client.post(e.path, content=body, headers={**FORM_CT, "Authorization": raw})
        assert assert_clean_error(site, r, 401)["error"] == "invalid_client", raw


def test_token_basic_and_form_secret_together_is_400(site: Site) -> None:
    r = site.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_secret": site.client_secret},
        headers=site.client_basic(),
    )
    assert assert_clean_error(site, r, 400)["error"] == "invalid_request"


# -- JSON bodies ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class JsonEndpoint:
    path: str  # a route's path; {user_id} and {client_id} stand for bob and the client rs
    valid: Callable[[int], dict[str, Any]]  # a body the endpoint accepts; n keeps names unique
    caller: str = "admin"  # whose bearer token: admin, bob, or none
    headers: tuple[tuple[str, str], ...] = ()
    method: str = "POST"

    def post(self, site: Site, body: bytes, content_type: dict[str, str] | None = None) -> Any:
        token = {"admin": site.admin, "bob": site.bob}.get(self.caller)
        hdrs = {**(site.bearer(token) if token else {}), **dict(self.headers)}
        hdrs.update(JSON_CT if content_type is None else content_type)
        url = self.path.format(user_id=site.bob_id, client_id=site.client_id)
        return site.client.request(self.method, url, content=body, headers=hdrs)


_XRW = (("X-Requested-With", "XMLHttpRequest"),)
JSON_ENDPOINTS = [
    JsonEndpoint(
        "/admin/users",
        lambda n: {"username": f"carol{n}", "password": SENT_PASSWORD, "roles": ["editor"]},
    ),
    JsonEndpoint(
        "/admin/clients",
        lambda n: {
            "name": f"app{n}",
            "grants": ["password"],
            "scopes": ["profile"],
            "audience": "gatepass",
            "token_format": "jwt",
        },
    ),
    JsonEndpoint(
        "/admin/clients",
        lambda n: {
            "name": f"web{n}",
            "grants": ["authorization_code", "refresh_token"],
            "redirect_uris": ["https://app.example/cb", "http://127.0.0.1/native"],
            "post_logout_redirect_uris": ["https://app.example/bye"],
            "first_party": True,
        },
    ),
    JsonEndpoint(
        "/admin/users",
        lambda n: {
            "username": f"erin{n}",
            "password": SENT_PASSWORD,
            "email": f"erin{n}@example.com",
            "name": f"Erin {n}",
            "email_verified": True,
        },
    ),
    JsonEndpoint("/auth/login", lambda n: {"username": "bob", "password": PASSWORD}, "none", _XRW),
    JsonEndpoint(
        "/auth/password",
        lambda n: {"current_password": PASSWORD, "new_password": f"{SENT_PASSWORD}-{n}"},
        "bob",
        _XRW,
    ),
    # the admin console's and the account page's APIs
    JsonEndpoint(
        "/admin/users/{user_id}",
        lambda n: {"disabled": False, "roles": [f"editor{n}"]},
        method="PATCH",
    ),
    JsonEndpoint("/admin/users/{user_id}/password", lambda n: {"password": f"{SENT_PASSWORD}-{n}"}),
    JsonEndpoint(
        "/admin/clients/{client_id}",
        lambda n: {
            "name": f"rs{n}",
            "grants": ["client_credentials"],
            "scopes": ["profile"],
            "audience": "gatepass",
            "token_format": "jwt",
        },
        method="PATCH",
    ),
    JsonEndpoint(
        "/auth/profile",
        lambda n: {"name": f"Bob {n}", "email": f"bob{n}@example.com"},
        "bob",
        method="PATCH",
    ),
]
_JSON_IDS = [f"{e.method} {e.path} {sorted(e.valid(0))[:3]}" for e in JSON_ENDPOINTS]


def _string_slots(doc: dict[str, Any]) -> Iterator[tuple[str, int | None]]:
    """Where the strings of ``doc`` are: (key, None) for a value, (key, i) for a list item."""
    for key, value in doc.items():
        if isinstance(value, str):
            yield key, None
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    yield key, i


def _replaced(
    doc: dict[str, Any], slot: tuple[str, int | None], change: Callable[[Any], Any]
) -> dict[str, Any]:
    key, index = slot
    out = json.loads(json.dumps(doc))
    if index is None:
        out[key] = change(out[key])
    else:
        out[key][index] = change(out[key][index])
    return out


@pytest.mark.parametrize("e", JSON_ENDPOINTS, ids=_JSON_IDS)
def test_json_control_valid_body_is_accepted(site: Site, e: JsonEndpoint) -> None:
    _need(site, e.path, e.method)
    r = e.post(site, json.dumps(e.valid(0)).encode())
    assert 200 <= r.status_code < 300, r.text


@pytest.mark.parametrize("e", JSON_ENDPOINTS, ids=_JSON_IDS)
def test_json_malformed_is_400(site: Site, e: JsonEndpoint) -> None:
    _need(site, e.path, e.method)
    for body in (
        b"{",
        b'{"username": }',
        b"{'username': 'x'}",
        b'{"a": 1,}',
        b"nul",
        b"",
        b"[1, 2",
        b'{"a": NaN',
        b"\x00{}",
        b"[" * 50_000,
        b'{"a":' * 10_000,
        b"1" * 5_000,
    ):
        assert_clean_error(site, e.post(site, body), 400)


@pytest.mark.parametrize("e", JSON_ENDPOINTS, ids=_JSON_IDS)
def test_json_not_an_object_is_400(site: Site, e: JsonEndpoint) -> None:
    _need(site, e.path, e.method)
    for body in (b"[]", b'"text"', b"1", b"null", b"true", b"[{}]"):
        assert_clean_error(site, e.post(site, body), 400)


@pytest.mark.parametrize("e", JSON_ENDPOINTS, ids=_JSON_IDS)
def test_json_wrong_content_type_is_4xx(site: Site, e: JsonEndpoint) -> None:
    _need(site, e.path, e.method)
    body = json.dumps(e.valid(1)).encode()
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "text/json",
        "",
    ):
        r = e.post(site, body, {"content-type": content_type} if content_type else {})
        assert_clean_error(site, r, (400, 415))


@pytest.mark.parametrize("e", JSON_ENDPOINTS, ids=_JSON_IDS)
def test_json_invalid_utf8_is_400(site: Site, e: JsonEndpoint) -> None:
    _need(site, e.path, e.method)
    for body in (
        b'{"x": "\xff\xfe"}',
        b'{"x": "\xed\xa0\x80"}',  # a UTF-8-encoded surrogate
        b'{"x": "\xc3"}',
        b'\xff\xfe{"x": 1}',
    ):
        assert_clean_error(site, e.post(site, body), 400)


@pytest.mark.parametrize("e", JSON_ENDPOINTS, ids=_JSON_IDS)
def test_json_nul_and_lone_surrogates_in_each_string_are_400(
    site_on_each_db: Site, e: JsonEndpoint
) -> None:
    """Each string of a valid body in turn gets the bad text inside it (sent as a ``\\u``
    escape, as ``json.dumps`` writes it); the valid body itself is accepted afterwards."""
    site = site_on_each_db
    _need(site, e.path, e.method)
    slots = list(_string_slots(e.valid(0)))
    assert slots
    n = 100
    for text in BAD_TEXT.values():
        for slot in slots:
            n += 1
            changed = _replaced(e.valid(n), slot, lambda s, t=text: s[:2] + t + s[2:])
            assert_clean_error(site, e.post(site, json.dumps(changed).encode()), 400)
    r = e.post(site, json.dumps(e.valid(0)).encode())
    assert 200 <= r.status_code < 300, r.text


@pytest.mark.parametrize("e", JSON_ENDPOINTS, ids=_JSON_IDS)
def test_json_lone_surrogate_in_a_key_is_400(site_on_each_db: Site, e: JsonEndpoint) -> None:
    site = site_on_each_db
    _need(site, e.path, e.method)
    doc = {**e.valid(7), "\ud800": "x"}
    assert_clean_error(site, e.post(site, json.dumps(doc).encode()), 400)


@pytest.mark.parametrize("e", JSON_ENDPOINTS, ids=_JSON_IDS)
def test_json_overlong_string_is_4xx(site: Site, e: JsonEndpoint) -> None:
    _need(site, e.path, e.method)
    for n, slot in enumerate(_string_slots(e.valid(0)), start=200):
        changed = _replaced(e.valid(n), slot, lambda s: s + "z" * 60_000)
        assert_clean_error(site, e.post(site, json.dumps(changed).encode()), (400, 413))


@pytest.mark.parametrize("e", JSON_ENDPOINTS, ids=_JSON_IDS)
def test_json_strings_of_the_wrong_type_are_400(site: Site, e: JsonEndpoint) -> None:
    _need(site, e.path, e.method)
    for n, slot in enumerate(_string_slots(e.valid(0)), start=300):
        for wrong in (123, {"a": "b"}, ["x"], True, 1.5):
            if slot[1] is not None and wrong == ["x"]:
                continue
            changed = _replaced(e.valid(n), slot, lambda _, w=wrong: w)
            assert_clean_error(site, e.post(site, json.dumps(changed).encode()), 400)


# -- the authorization code grant and UserInfo -----------------------------------------------------
CODE_GRANT_BAD = [
    ("code", "gpk_" + "x" * 10_000, "invalid_grant"),
    ("code", "gpk_\x01\x02", "invalid_grant"),
    ("code", "gpk_\u202e", "invalid_grant"),
    ("code", "\ud800", None),  # not UTF-8: the body is refused
    ("redirect_uri", "https://app.example/cb\r\nX: y", "invalid_grant"),
    ("redirect_uri", "x" * 20_000, "invalid_grant"),
    ("code_verifier", "a" * 20_000, "invalid_request"),
    ("code_verifier", "a" * 42 + "\x7f", "invalid_request"),
    ("code_verifier", "a" * 42 + "\u00e9", "invalid_request"),
    ("client_id", "x" * 5_000, "invalid_client"),
    ("client_id", "gpc_\x01", "invalid_client"),
]


@pytest.mark.parametrize("name,value,error", CODE_GRANT_BAD)
def test_code_grant_bad_values(site_on_each_db: Site, name: str, value: str, error) -> None:
    site = site_on_each_db
    assert site.code is not None
    form = {**site.code.form(), "client_id": site.rp_id, name: value}
    body = "&".join(
        f"{k}={httpx.QueryParams({k: v})[k] if v.isascii() else v}" for k, v in form.items()
    )
    r = site.client.post(
        "/oauth/token", content=body.encode("utf-8", "surrogatepass"), headers=FORM_CT
    )
    got = assert_clean_error(site, r)
    if error is not None:
        assert got["error"] == error, got
    # none of it consumed the code
    ok = site.client.post("/oauth/token", data={**site.code.form(), "client_id": site.rp_id})
    assert ok.status_code == 200, ok.text


def test_code_grant_values_of_the_wrong_kind(site: Site) -> None:
    """Form values are text; what looks like another type is text that fails its check."""
    assert site.code is not None
    for name in ("code", "redirect_uri", "code_verifier"):
        for value in ("123", "true", "[]", "{}", "null"):
            form = {**site.code.form(), "client_id": site.rp_id, name: value}
            assert_clean_error(site, site.client.post("/oauth/token", data=form), 400)


def test_userinfo_bad_credentials(site: Site) -> None:
    for authorization in (
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer \x01",
        "Basic dXNlcjpwYXNz",
        "DPoP",
        "Bearer " + "A" * 20_000,
        "Bearer gpa_" + "x" * 300,
    ):
        for method in ("GET", "POST"):
            r = site.client.request(
                method, "/oauth/userinfo", headers={"Authorization": authorization}
            )
            assert_clean_error(site, r, (400, 401))
    r = site.client.get("/oauth/userinfo", headers=[("Authorization", f"Bearer {site.bob}")] * 2)
    assert_clean_error(site, r, (400, 401, 403))  # bob's token has no openid scope


def test_userinfo_ignores_the_query_and_reads_a_form_body_with_care(site: Site) -> None:
    """A token in the query is not looked at (RFC 6750 §2.3 is not supported): the answer is the
    same 401 as without it. A form-encoded POST body is read for ``access_token`` (§2.2): a
    malformed one, or one with the header too, is a clean 400."""
    r = site.client.get(f"/oauth/userinfo?access_token={site.bob}")
    assert assert_clean_error(site, r, 401)["error"] == "invalid_request"
    for body in (b"access_token=\x00%00&&=", b"access_token=%ff", b"access_token=a&access_token=b"):
        r = site.client.post("/oauth/userinfo", content=body, headers=FORM_CT)
        assert assert_clean_error(site, r, 400)["error"] == "invalid_request"
    r = site.client.post(
        "/oauth/userinfo",
        content=f"access_token={site.bob}".encode(),
        headers={**FORM_CT, "Authorization": f"Bearer {site.bob}"},
    )
    assert assert_clean_error(site, r, 400)["error"] == "invalid_request"
    r = site.client.post(
        "/oauth/userinfo", content=b"access_token=" + b"A" * 20_000, headers=FORM_CT
    )
    assert_clean_error(site, r, 401)
