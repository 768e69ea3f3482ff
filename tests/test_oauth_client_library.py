"""Interoperability: Authlib's OAuth2Session (written by nobody here) drives every grant,
introspection and revocation against a real `gatepass serve`; PyJWT's PyJWKClient verifies
the tokens from the published JWKS."""

from __future__ import annotations

import json

import jwt
import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from servers import Server, base_env, cli

PASSWORD = "correct horse battery"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("authlib") / "data"
    env = base_env(data)
    cli(env, "user", "create", "bob", "--password-stdin", stdin=PASSWORD + "\n")
    web = cli(
        env, "client", "create", "web", "--scope", "profile", "--scope", "files:read", "--json"
    )
    m2m = cli(
        env, "client", "create", "m2m", "--grant", "client_credentials", "--scope", "jobs", "--json"
    )
    op = cli(
        env,
        "client",
        "create",
        "op",
        "--grant",
        "client_credentials",
        "--token-format",
        "opaque",
        "--json",
    )
    srv = Server(data).start()
    try:
        yield srv, json.loads(web), json.loads(m2m), json.loads(op)
    finally:
        srv.stop()


def _session(creds: dict, method: str = "client_secret_basic") -> OAuth2Session:
    return OAuth2Session(
        creds["client_id"],
        creds["client_secret"],
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
    )


def _pyjwt_verify(srv: Server, token: str) -> dict:
    signing_key = jwt.PyJWKClient(srv.url + "/.well-known/jwks.json").get_signing_key_from_jwt(
        token
    )
    return jwt.decode(
        token,
        signing_key.key,
        algorithms=["ES256"],
        audience="gatepass",
        issuer=srv.url,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_password_refresh_introspect_revoke(server, method: str) -> None:
    srv, web, _, _ = server
    s = _session(web, method)
    token = s.fetch_token(
        srv.url + "/oauth/token",
        grant_type="password",
        username="bob",
        password=PASSWORD,
        scope="files:read",
    )
    assert token["token_type"] == "Bearer" and token["scope"] == "files:read"
    claims = _pyjwt_verify(srv, token["access_token"])
    assert claims["client_id"] == web["client_id"] and claims["scope"] == "files:read"

    refreshed = s.refresh_token(srv.url + "/oauth/token", refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    _pyjwt_verify(srv, refreshed["access_token"])

    info = s.introspect_token(srv.url + "/oauth/introspect", token=refreshed["access_token"]).json()
    assert info["active"] is True and info["username"] == "bob"
    r = s.revoke_token(
        srv.url + "/oauth/revoke", token=refreshed["refresh_token"], token_type_hint="refresh_token"
    )
    assert r.status_code == 200
    after = s.introspect_token(
        srv.url + "/oauth/introspect", token=refreshed["access_token"]
    ).json()
    assert after == {"active": False}  # the login ended with its access tokens


def test_client_credentials_jwt_and_opaque(server) -> None:
    srv, _, m2m, op = server
    token = _session(m2m).fetch_token(srv.url + "/oauth/token", grant_type="client_credentials")
    assert "refresh_token" not in token and token["scope"] == "jobs"
    assert _pyjwt_verify(srv, token["access_token"])["sub"] == m2m["client_id"]

    s = _session(op)
    opaque = s.fetch_token(srv.url + "/oauth/token", grant_type="client_credentials")[
        "access_token"
    ]
    assert opaque.startswith("gpa_")
    assert s.introspect_token(srv.url + "/oauth/introspect", token=opaque).json()["active"] is True
    assert s.revoke_token(srv.url + "/oauth/revoke", token=opaque).status_code == 200
    assert s.introspect_token(srv.url + "/oauth/introspect", token=opaque).json() == {
        "active": False
    }


def test_every_rfc6749_error_reaches_the_library(server) -> None:
    srv, web, m2m, _ = server
    url = srv.url + "/oauth/token"

    def error_of(session: OAuth2Session, **kw) -> str:
        with pytest.raises(OAuthError) as err:
            session.fetch_token(url, **kw)
        return str(err.value.error)

    assert (
        error_of(
            _session({**web, "client_secret": "gps_wrong"}),
            grant_type="password",
            username="bob",
            password=PASSWORD,
        )
        == "invalid_client"
    )
    assert (
        error_of(_session(web), grant_type="password", username="bob", password="nope nope")
        == "invalid_grant"
    )
    assert (
        error_of(
            _session(web), grant_type="password", username="bob", password=PASSWORD, scope="root"
        )
        == "invalid_scope"
    )
    assert error_of(_session(web), grant_type="client_credentials") == "unauthorized_client"
    assert (
        error_of(_session(m2m), grant_type="urn:ietf:params:oauth:grant-type:device_code")
        == "unsupported_grant_type"
    )
    assert error_of(_session(web), grant_type="password", username="bob") == "invalid_request"
