"""OpenID Connect with a relying party nobody here wrote: Node's openid-client v6 (panva,
OpenID-certified; tests/interop/oidc_client.mjs) against a real ``gatepass serve``.

The script discovers the server, builds an authorization URL with PKCE (S256), nonce and state,
goes through the hosted pages as a browser would (the login form read from its HTML and filled
in, consent allowed when asked), exchanges the code with openid-client's ID-token validation,
calls userinfo, refreshes, authorizes again silently (``prompt=none``, single sign-on), and
follows the end-session URL to the registered post-logout URI; then it tries what logout must
have ended. Run for a confidential web client that is asked for consent and for a public,
first-party native app (a private-use scheme redirect URI, RFC 8252 §7.1).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import IN_CI, PASSWORD, need_binary
from servers import Server, create_oidc_client, create_user

INTEROP = Path(__file__).parent / "interop"
SESSION_COOKIE = "__Host-gp_session"

pytestmark = pytest.mark.slow

CLIENTS = {
    "confidential-web": dict(
        redirect_uri="https://app.example/callback",
        post_logout_redirect_uri="https://app.example/signed-out",
        first_party=False,
        public=False,
    ),
    "public-native-first-party": dict(
        redirect_uri="com.example.app:/callback",
        post_logout_redirect_uri="com.example.app:/signed-out",
        first_party=True,
        public=True,
    ),
}


def _node() -> str:
    node = need_binary("node", "apt-get install -y nodejs")
    if not (INTEROP / "node_modules" / "openid-client").is_dir():
        msg = "openid-client is not installed (npm ci --prefix tests/interop)"
        if IN_CI:
            pytest.fail(msg + " (CI=true: .ci/run must install it)")
        pytest.skip(msg)
    return node


@pytest.mark.parametrize("kind", sorted(CLIENTS))
def test_openid_client_code_flow_userinfo_refresh_sso_logout(tmp_path: Path, kind: str) -> None:
    node = _node()
    spec = CLIENTS[kind]
    server = Server(tmp_path / "data").start()
    try:
        user_id = create_user(
            server.env, "bob", PASSWORD, email="bob@example.com", full_name="Bob Example"
        )
        creds = create_oidc_client(server.env, kind, **spec)  # type: ignore[arg-type]
        env = {
            "PATH": "/usr/bin:/bin",
            "CLIENT_ID": str(creds["client_id"]),
            "REDIRECT_URI": str(spec["redirect_uri"]),
            "POST_LOGOUT_REDIRECT_URI": str(spec["post_logout_redirect_uri"]),
            "USERNAME": "bob",
            "PASSWORD": PASSWORD,
            "SCOPE": "openid profile email",
        }
        if creds.get("client_secret"):
            env["CLIENT_SECRET"] = str(creds["client_secret"])
        run = subprocess.run(
            [node, "oidc_client.mjs", server.url],
            cwd=INTEROP,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        server.stop()
    assert run.returncode == 0, run.stderr[-4000:]
    out = json.loads(run.stdout)

    # discovery (OIDC Discovery 1.0; openid-client checked that issuer is the one asked for)
    d = out["discovery"]
    assert d["issuer"] == server.url
    assert d["authorization_endpoint"] == server.url + "/oauth/authorize"
    assert d["userinfo_endpoint"] == server.url + "/oauth/userinfo"
    assert d["end_session_endpoint"] == server.url + "/oauth/logout"
    assert d["code_challenge_methods_supported"] == ["S256"]

    # the hosted pages: a login form (and a consent form unless first-party), no framing
    login = out["login"]
    pages = [s for s in login["seen"] if "forms" in s]
    assert {"username", "password", "csrf_token"} <= set(pages[0]["forms"][0]["fields"])
    assert len(pages[0]["forms"][0]["buttons"]) == 1
    consent = [p for p in pages if "consent=allow" in p["forms"][0]["buttons"]]
    if spec["first_party"]:
        assert consent == [] and len(pages) == 1
    else:
        assert len(consent) == 1 and "consent=deny" in consent[0]["forms"][0]["buttons"]
        assert "csrf_token" in consent[0]["forms"][0]["fields"]
    for p in pages:
        assert "frame-ancestors 'none'" in (p["headers"]["csp"] or "")
        assert "no-store" in (p["headers"]["cache"] or "")
    assert login["callback_iss"] == server.url  # RFC 9207
    assert "code" in login["callback_params"] and "state" in login["callback_params"]
    session = [c for c in login["set_cookies"] if c.startswith(SESSION_COOKIE + "=")]
    assert session, login["set_cookies"]
    attrs = {a.strip().split("=")[0].lower(): a.strip() for a in session[-1].split(";")[1:]}
    assert {"httponly", "secure", "path", "samesite"} <= attrs.keys()
    assert attrs["path"].lower() == "path=/" and attrs["samesite"].lower() == "samesite=lax"
    assert "domain" not in attrs

    # the code exchange, with the ID token validated by openid-client (signature, iss, aud,
    # exp, iat, nonce; state and PKCE on the way)
    t = out["tokens"]
    c = t["claims"]
    assert t["token_type"].lower() == "bearer"
    assert c["sub"] == user_id and c["aud"] in (creds["client_id"], [creds["client_id"]])
    assert c["nonce"] == t["nonce_sent"] and c["iss"] == server.url
    assert c["azp"] == creds["client_id"] and c["amr"] == ["pwd"]
    assert isinstance(c["auth_time"], int) and c["sid"]
    assert t["has_refresh_token"]

    # userinfo for that subject, by scope
    u = out["userinfo"]
    assert u["sub"] == user_id and u["preferred_username"] == "bob"
    assert u["name"] == "Bob Example" and u["email"] == "bob@example.com"
    assert "email_verified" in u

    # refresh rotates
    assert out["refresh"]["rotated"]
    assert out["refresh"]["id_token_sub"] in (None, user_id)

    # single sign-on: prompt=none answered with a code, no page shown, the same login session
    sso = out["sso"]
    assert sso["pages"] == 0 and sso["sub"] == user_id
    assert sso["auth_time_same"]

    # RP-initiated logout lands on the registered post-logout URI with its state
    lo = out["logout"]
    assert lo["end_session_url_path"] == server.url + "/oauth/logout"
    assert lo["landed"] == spec["post_logout_redirect_uri"], lo
    assert lo["state_echoed"]

    # ... and ended the login: its refresh token, its access token, the SSO session
    after = out["after_logout"]
    assert after["refresh"] == {"ok": False, "status": 400, "error": "invalid_grant"}
    assert not after["userinfo"]["ok"] and after["userinfo"]["status"] == 401
    assert after["prompt_none"]["error"] == "login_required"
    assert after["prompt_none"]["state_echoed"] and after["prompt_none"]["iss"] == server.url
