"""OpenID Connect with Python's Authlib (written by nobody here) against a real ``gatepass
serve``: ``OAuth2Session`` with ``code_challenge_method="S256"`` builds the authorization URL
and exchanges the code (checking ``state``), for a confidential web client (asked for consent)
and for a public native app (first-party, a loopback redirect URI on a port of its own, RFC 8252
§7.3). The ID token is validated by Authlib: ``authlib.jose`` (Authlib's own JOSE code, not the
joserfc that gatepass signs with) checks the signature against the published JWKS, and
``authlib.oidc.core.CodeIDToken`` the claims (iss, aud, exp, iat, nonce, azp, at_hash).

The hosted pages are walked by tests/html_browser.py (the form read from the HTML; cookies kept
by hand, see there why).
"""

from __future__ import annotations

import secrets
import warnings
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc.errors import InvalidClaimError

from conftest import PASSWORD
from html_browser import Browser, sign_in
from servers import Server, create_oidc_client, create_user

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "authlib.jose is deprecated" (for joserfc): see above
    from authlib.jose import JsonWebKey, JsonWebToken
    from authlib.jose.errors import BadSignatureError

pytestmark = pytest.mark.slow

SCOPE = "openid profile email"
WEB_REDIRECT = "https://app.example/callback"
NATIVE_REGISTERED = "http://127.0.0.1/callback"  # any port at request time (RFC 8252 §7.3)


@pytest.fixture(scope="module")
def oidc(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("authlib-oidc") / "data").start()
    try:
        user_id = create_user(
            server.env, "bob", PASSWORD, email="bob@example.com", full_name="Bob Example"
        )
        web = create_oidc_client(server.env, "web", redirect_uri=WEB_REDIRECT)
        native = create_oidc_client(
            server.env, "native", redirect_uri=NATIVE_REGISTERED, public=True, first_party=True
        )
        meta = httpx.get(server.url + "/.well-known/openid-configuration").json()
        jwks = httpx.get(meta["jwks_uri"]).json()
        yield server, user_id, {"web": web, "native": native}, meta, jwks
    finally:
        server.stop()


def _id_token_claims(
    id_token: str, jwks: dict, *, issuer: str, client_id: str, nonce: str, access_token: str
) -> CodeIDToken:
    """Authlib's validation of an ID token from the code flow (OIDC Core §3.1.3.7)."""
    claims = JsonWebToken(["RS256"]).decode(
        id_token,
        JsonWebKey.import_key_set(jwks),
        claims_cls=CodeIDToken,
        claims_options={
            "iss": {"essential": True, "value": issuer},
            "aud": {"essential": True, "value": client_id},
            "nonce": {"essential": True, "value": nonce},
        },
        claims_params={"nonce": nonce, "client_id": client_id, "access_token": access_token},
    )
    claims.validate(leeway=5)
    return claims


@pytest.mark.parametrize("kind", ["web", "native"])
def test_authlib_code_flow_with_pkce_and_id_token(oidc, kind: str) -> None:
    server, user_id, clients, meta, jwks = oidc
    creds = clients[kind]
    redirect = WEB_REDIRECT if kind == "web" else "http://127.0.0.1:53682/callback"
    session = OAuth2Session(
        creds["client_id"],
        creds["client_secret"],
        scope=SCOPE,
        redirect_uri=redirect,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if kind == "web" else "none",
    )
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    url, state = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]

    browser = Browser()
    try:
        walk = browser.navigate(url, redirect, sign_in("bob", PASSWORD))
    finally:
        browser.close()
    assert walk.landed is not None, [(p.status, p.html[:300]) for p in walk.pages]
    forms = [p.forms[0] for p in walk.pages]
    assert "password" in forms[0].names() and "csrf_token" in forms[0].names()
    asked = [f for f in forms if f.button("consent", "allow") is not None]
    assert len(asked) == (0 if kind == "native" else 1)  # first-party: no consent page
    back = parse_qs(urlsplit(walk.landed).query)
    assert back["state"] == [state] and back["iss"] == [server.url]  # RFC 9207

    token = session.fetch_token(
        meta["token_endpoint"], authorization_response=walk.landed, code_verifier=verifier
    )
    assert token["token_type"].lower() == "bearer" and token.get("refresh_token")
    claims = _id_token_claims(
        token["id_token"],
        jwks,
        issuer=server.url,
        client_id=creds["client_id"],
        nonce=nonce,
        access_token=token["access_token"],
    )
    assert claims["sub"] == user_id and claims["azp"] == creds["client_id"]
    assert claims["amr"] == ["pwd"] and isinstance(claims["auth_time"], int) and claims["sid"]

    # refused with another nonce, for another client, with one bit of its signature flipped:
    # Authlib's checks are live
    with pytest.raises(InvalidClaimError, match="nonce"):
        _id_token_claims(
            token["id_token"],
            jwks,
            issuer=server.url,
            client_id=creds["client_id"],
            nonce="another-nonce",
            access_token=token["access_token"],
        )
    with pytest.raises(InvalidClaimError, match="aud"):
        _id_token_claims(
            token["id_token"],
            jwks,
            issuer=server.url,
            client_id="gpc_someone_else",
            nonce=nonce,
            access_token=token["access_token"],
        )
    head, payload, sig = token["id_token"].split(".")
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    with pytest.raises(BadSignatureError):
        _id_token_claims(
            f"{head}.{payload}.{flipped}",
            jwks,
            issuer=server.url,
            client_id=creds["client_id"],
            nonce=nonce,
            access_token=token["access_token"],
        )

    info = session.get(meta["userinfo_endpoint"])
    assert info.status_code == 200, info.text
    body = info.json()
    assert body["sub"] == user_id and body["email"] == "bob@example.com"
    assert body["name"] == "Bob Example" and body["preferred_username"] == "bob"

    refreshed = session.refresh_token(meta["token_endpoint"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert session.get(meta["userinfo_endpoint"]).json()["sub"] == user_id


def test_authlib_code_is_refused_a_second_time(oidc) -> None:
    """Replaying the same authorization response through Authlib gets ``invalid_grant``
    (the contract: a code works once)."""
    _, _, clients, meta, _ = oidc
    creds = clients["native"]
    redirect = "http://127.0.0.1:8765/callback"
    session = OAuth2Session(
        creds["client_id"],
        scope=SCOPE,
        redirect_uri=redirect,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier = secrets.token_urlsafe(48)
    url, _ = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce="n-" + secrets.token_hex(4)
    )
    browser = Browser()
    try:
        walk = browser.navigate(url, redirect, sign_in("bob", PASSWORD))
    finally:
        browser.close()
    assert walk.landed is not None
    session.fetch_token(
        meta["token_endpoint"], authorization_response=walk.landed, code_verifier=verifier
    )
    with pytest.raises(OAuthError) as replay:
        session.fetch_token(
            meta["token_endpoint"], authorization_response=walk.landed, code_verifier=verifier
        )
    assert replay.value.error == "invalid_grant"
