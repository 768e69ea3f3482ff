"""grant_type=authorization_code (RFC 6749 §4.1.3, PKCE RFC 7636 S256) over HTTP, on SQLite and
PostgreSQL: the exchange, every binding of the code, one-time use and replay revocation, the
ID token (OpenID Connect Core §2, §3.1.3.3) and its renewal on refresh (§12.2)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any

import pytest

from conftest import Harness, basic_auth
from dpop_keys import ProofKey
from gatepass.clock import FrozenClock
from gatepass.oauth.authorization_code import s256
from oidc_codes import REDIRECT, Code, new_code, parts, rp, sso_session, user_id


@pytest.fixture
def h(make_harness: Callable[..., Harness], database_url: str) -> Harness:
    harness = make_harness(clock=FrozenClock(), database_url=database_url)
    harness.create_user("alice", roles=("admin",))
    harness.create_user("bob")
    return harness


def exchange(h: Harness, grant: Code, auth: dict[str, str] | None = None, **form: str) -> Any:
    return h.client.post("/oauth/token", data=grant.form(**form), headers=auth or {})


def refused(r: Any, error: str = "invalid_grant") -> None:
    assert r.status_code == 400, r.text
    assert r.json()["error"] == error, r.text


def test_confidential_client_gets_tokens_and_an_id_token(h: Harness) -> None:
    cid, secret = rp(h)
    bob = user_id(h, "bob")
    code = new_code(h, cid, bob, scope=("openid", "profile"), nonce="abc-123")
    r = exchange(h, code, basic_auth(cid, secret))
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "openid profile"
    assert body["refresh_token"].startswith("gpr_")
    header, claims = parts(body["id_token"])
    assert header["typ"] == "JWT" and header["alg"] == "RS256"
    assert header["kid"] == h.svc.id_keys.ring.active().kid
    now = int(h.svc.clock.now())
    assert claims == {
        "iss": "http://testserver",
        "sub": bob,
        "aud": cid,
        "azp": cid,
        "exp": now + 3600,
        "iat": now,
        "auth_time": int(code.sso.auth_time or 0),
        "amr": ["pwd"],
        "nonce": "abc-123",
        "sid": code.sso.id,
    }
    # the access token is an ordinary one of a new login whose parent is the SSO session
    at_header, at = parts(body["access_token"])
    assert at_header["typ"] == "at+jwt" and at["client_id"] == cid and at["sub"] == bob
    profile = h.client.get("/api/profile", headers=h.bearer(body["access_token"]))
    assert profile.status_code == 200
    login = h.run(h.svc.logins.get, at["sid"])
    assert login.parent_sid == code.sso.id and login.amr == "pwd"
    assert login.auth_time == code.sso.auth_time


def test_the_id_token_verifies_with_the_published_jwks(h: Harness) -> None:
    from joserfc import jwt
    from joserfc.jwk import KeySet

    cid, secret = rp(h)
    body = exchange(h, new_code(h, cid, user_id(h, "bob")), basic_auth(cid, secret)).json()
    jwks = h.client.get("/.well-known/jwks.json").json()
    token = jwt.decode(body["id_token"], KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert token.claims["aud"] == cid
    (published,) = [k for k in jwks["keys"] if k["kid"] == token.header["kid"]]
    assert published["alg"] == "RS256" and published["use"] == "sig"


def test_form_secret_authentication_works_too(h: Harness) -> None:
    cid, secret = rp(h)
    code = new_code(h, cid, user_id(h, "bob"))
    r = exchange(h, code, client_id=cid, client_secret=secret or "")
    assert r.status_code == 200, r.text


def test_public_client_with_client_id_alone(h: Harness) -> None:
    cid, _ = rp(h, public=True)
    r = exchange(h, new_code(h, cid, user_id(h, "bob")), client_id=cid)
    assert r.status_code == 200, r.text
    assert "id_token" in r.json() and "refresh_token" in r.json()


def test_confidential_client_without_its_secret_is_invalid_client(h: Harness) -> None:
    cid, _ = rp(h)
    code = new_code(h, cid, user_id(h, "bob"))
    r = exchange(h, code, client_id=cid)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = exchange(h, code, basic_auth(cid, "gps_wrong"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_no_client_at_all_is_invalid_request(h: Harness) -> None:
    cid, _ = rp(h, public=True)
    refused(exchange(h, new_code(h, cid, user_id(h, "bob"))), "invalid_request")


def test_a_client_without_the_grant_is_unauthorized_client(h: Harness) -> None:
    cid, secret = h.create_client("pw", grants=["password"])
    other, _ = rp(h)
    code = new_code(h, other, user_id(h, "bob"))
    refused(exchange(h, code, basic_auth(cid, secret)), "unauthorized_client")


def test_no_refresh_token_without_the_refresh_grant(h: Harness) -> None:
    cid, secret = rp(h, grants=("authorization_code",))
    body = exchange(h, new_code(h, cid, user_id(h, "bob")), basic_auth(cid, secret)).json()
    assert "refresh_token" not in body and "id_token" in body
    # the login exists all the same (it can be revoked), and lasts as long as its token
    sid = parts(body["access_token"])[1]["sid"]
    login = h.run(h.svc.logins.get, sid)
    assert login.expires_at == h.svc.clock.now() + 900


def test_no_id_token_without_openid(h: Harness) -> None:
    cid, secret = rp(h)
    code = new_code(h, cid, user_id(h, "bob"), scope=("profile",))
    body = exchange(h, code, basic_auth(cid, secret)).json()
    assert "id_token" not in body and body["scope"] == "profile"


def test_no_nonce_claim_when_none_was_sent(h: Harness) -> None:
    cid, secret = rp(h)
    code = new_code(h, cid, user_id(h, "bob"), nonce=None)
    claims = parts(exchange(h, code, basic_auth(cid, secret)).json()["id_token"])[1]
    assert "nonce" not in claims


def test_opaque_client_gets_an_opaque_access_token(h: Harness) -> None:
    cid, secret = rp(h, token_format="opaque")
    body = exchange(h, new_code(h, cid, user_id(h, "bob")), basic_auth(cid, secret)).json()
    assert body["access_token"].startswith("gpa_") and "id_token" in body
    assert h.client.get("/api/profile", headers=h.bearer(body["access_token"])).status_code == 200


@pytest.mark.parametrize(
    "presented",
    [
        REDIRECT + "/",  # a trailing slash
        "https://App.example/cb",  # a case
        "https://app.example:443/cb",  # a port
        REDIRECT + "/x",  # a path suffix
        "https://user@app.example/cb",  # userinfo
        REDIRECT + "#frag",  # a fragment
        REDIRECT + "?x=1",
    ],
)
def test_redirect_uri_must_be_the_same_character_for_character(h: Harness, presented) -> None:
    cid, secret = rp(h)
    code = new_code(h, cid, user_id(h, "bob"))
    refused(exchange(h, code, basic_auth(cid, secret), redirect_uri=presented))
    # a failed check consumes nothing: the client's own request still works
    assert exchange(h, code, basic_auth(cid, secret)).status_code == 200


def test_wrong_pkce_verifier_is_invalid_grant(h: Harness) -> None:
    cid, secret = rp(h)
    code = new_code(h, cid, user_id(h, "bob"))
    refused(exchange(h, code, basic_auth(cid, secret), code_verifier=secrets.token_urlsafe(48)))
    # "plain": the challenge itself sent as the verifier
    refused(exchange(h, code, basic_auth(cid, secret), code_verifier=s256(code.verifier)))
    assert exchange(h, code, basic_auth(cid, secret)).status_code == 200


@pytest.mark.parametrize(
    "verifier",
    ["a" * 42, "a" * 129, "a" * 42 + "!", "a" * 42 + " ", "a" * 42 + "é", "a" * 42 + "+"],
)
def test_malformed_pkce_verifier_is_invalid_request(h: Harness, verifier: str) -> None:
    cid, secret = rp(h)
    code = new_code(h, cid, user_id(h, "bob"))
    refused(exchange(h, code, basic_auth(cid, secret), code_verifier=verifier), "invalid_request")


def test_missing_pkce_verifier_is_invalid_request(h: Harness) -> None:
    cid, secret = rp(h)
    code = new_code(h, cid, user_id(h, "bob"))
    form = code.form()
    del form["code_verifier"]
    r = h.client.post("/oauth/token", data=form, headers=basic_auth(cid, secret))
    refused(r, "invalid_request")
    assert "code_verifier" in r.json()["error_description"]


def test_a_code_used_by_another_client_is_invalid_grant(h: Harness) -> None:
    cid, secret = rp(h)
    thief, thief_secret = rp(h)
    code = new_code(h, cid, user_id(h, "bob"))
    refused(exchange(h, code, basic_auth(thief, thief_secret)))
    public_thief, _ = rp(h, public=True)
    refused(exchange(h, code, client_id=public_thief))
    assert exchange(h, code, basic_auth(cid, secret)).status_code == 200


def test_an_expired_code_is_invalid_grant(h: Harness) -> None:
    cid, secret = rp(h)
    code = new_code(h, cid, user_id(h, "bob"))
    assert h.clock is not None
    h.clock.advance(60)
    refused(exchange(h, code, basic_auth(cid, secret)))


def test_unknown_or_malformed_codes_are_invalid_grant(h: Harness) -> None:
    cid, secret = rp(h)
    code = new_code(h, cid, user_id(h, "bob"))
    for bad in ("gpk_" + secrets.token_urlsafe(32), "not-a-code", "gpk_" + "x" * 400):
        refused(exchange(h, code, basic_auth(cid, secret), code=bad))


def test_a_replayed_code_revokes_the_login_of_its_first_use(h: Harness) -> None:
    cid, secret = rp(h)
    code = new_code(h, cid, user_id(h, "bob"))
    first = exchange(h, code, basic_auth(cid, secret)).json()
    assert h.client.get("/api/profile", headers=h.bearer(first["access_token"])).status_code == 200
    refused(exchange(h, code, basic_auth(cid, secret)))
    r = h.client.get("/api/profile", headers=h.bearer(first["access_token"]))
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    r = h.client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers=basic_auth(cid, secret),
    )
    refused(r)
    (event,) = h.run(h.svc.events.page, type_="authorization_code_replay")
    sid = parts(first["access_token"])[1]["sid"]
    assert event.sid == sid and event.client_id == cid and event.details == {"revoked": True}
    # a third presentation: still refused, still recorded, nothing left to revoke
    refused(exchange(h, code, basic_auth(cid, secret)))
    assert len(h.run(h.svc.events.page, type_="authorization_code_replay")) == 2


def test_a_replay_by_another_client_revokes_too(h: Harness) -> None:
    cid, secret = rp(h)
    thief, thief_secret = rp(h)
    code = new_code(h, cid, user_id(h, "bob"))
    first = exchange(h, code, basic_auth(cid, secret)).json()
    refused(exchange(h, code, basic_auth(thief, thief_secret)))
    assert h.client.get("/api/profile", headers=h.bearer(first["access_token"])).status_code == 401


def test_a_replay_between_redemption_and_login_is_caught(h: Harness) -> None:
    """The race the mark is for: the replay finds the code used but no login yet; the
    redemption then finds the mark when it records its login, and revokes it."""
    from gatepass.core import opaque

    cid, _ = rp(h)
    code = new_code(h, cid, user_id(h, "bob"))
    digest = opaque.digest(code.code)
    codes = h.svc.codes
    now = h.svc.clock.now()
    assert h.run(codes.redeem, digest, now=now) is True
    assert h.run(codes.redeem, digest, now=now) is False  # the loser
    assert h.run(codes.mark_replayed, digest) is None  # nothing to revoke yet: marked
    assert h.run(codes.attach_login, digest, "gps_late") is False  # the winner sees the mark


def test_the_replay_mark_after_the_login_names_it(h: Harness) -> None:
    from gatepass.core import opaque

    cid, _ = rp(h)
    digest = opaque.digest(new_code(h, cid, user_id(h, "bob")).code)
    now = h.svc.clock.now()
    assert h.run(h.svc.codes.redeem, digest, now=now)
    assert h.run(h.svc.codes.attach_login, digest, "gps_first")
    assert h.run(h.svc.codes.mark_replayed, digest) == "gps_first"


def test_many_concurrent_redemptions_one_succeeds(
    make_harness: Callable[..., Harness], database_url: str
) -> None:
    """Twelve threads, through three app instances on one database, present one code at once:
    exactly one request redeems it (one login is started), every other gets invalid_grant.
    Since every other presentation is a replay, the login that one started ends up revoked,
    whichever order they finished in: its answer is tokens already revoked, or, when a replay
    came before it recorded its login, invalid_grant as well."""
    clock = FrozenClock()
    apps = [make_harness(clock=clock, database_url=database_url) for _ in range(3)]
    h = apps[0]
    h.create_user("bob")
    cid, secret = rp(h)
    code = new_code(h, cid, user_id(h, "bob"))
    start = threading.Barrier(12)
    answers: list[Any] = []

    def redeem(app: Harness) -> None:
        start.wait()
        answers.append(exchange(app, code, basic_auth(cid, secret)))

    threads = [threading.Thread(target=redeem, args=(apps[i % 3],)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [r for r in answers if r.status_code == 200]
    assert len(answers) == 12 and len(won) <= 1, [r.text for r in answers]
    for r in answers:
        if r.status_code != 200:
            refused(r)
    logins = [
        row
        for row in h.run(h.svc.logins.of_user, user_id(h, "bob"))
        if row.client_id == cid and row.parent_sid == code.sso.id
    ]
    assert len(logins) == 1  # exactly one redemption
    assert logins[0].revoked_at is not None  # and the replays revoked what it started
    for r in won:  # the refresh token is dead at once (the other instances' denylist copies
        # learn of the access token's sid on their next poll, or at once through Redis)
        form = {"grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"]}
        refused(h.client.post("/oauth/token", data=form, headers=basic_auth(cid, secret)))


def test_concurrent_redeem_statements_one_wins(h: Harness) -> None:
    """The conditional update alone, many at once on the pool's connections: one True."""
    import asyncio

    from gatepass.core import opaque

    cid, _ = rp(h)
    digest = opaque.digest(new_code(h, cid, user_id(h, "bob")).code)
    now = h.svc.clock.now()

    async def all_at_once() -> list[bool]:
        return list(await asyncio.gather(*(h.svc.codes.redeem(digest, now=now) for _ in range(16))))

    assert sorted(h.run(all_at_once)) == [False] * 15 + [True]


def test_admin_scope_only_for_an_admin_through_a_client_registered_for_it(h: Harness) -> None:
    plain, plain_secret = rp(h)
    for name, expected in (("alice", "openid"), ("bob", "openid")):
        code = new_code(h, plain, user_id(h, name), scope=("openid", "gatepass:admin"))
        assert exchange(h, code, basic_auth(plain, plain_secret)).json()["scope"] == expected
    registered, secret = rp(h, scope_list=["gatepass:admin"])
    code = new_code(h, registered, user_id(h, "alice"), scope=("openid", "gatepass:admin"))
    assert exchange(h, code, basic_auth(registered, secret)).json()["scope"] == (
        "gatepass:admin openid"
    )
    code = new_code(h, registered, user_id(h, "bob"), scope=("openid", "gatepass:admin"))
    assert exchange(h, code, basic_auth(registered, secret)).json()["scope"] == "openid"


def test_a_disabled_user_gets_nothing(h: Harness) -> None:
    from sqlalchemy import update

    from gatepass.storage.models import User

    cid, secret = rp(h)
    bob = user_id(h, "bob")
    code = new_code(h, cid, bob)

    async def disable() -> None:
        async with h.svc.sessions.begin() as s:
            await s.execute(update(User).where(User.id == bob).values(disabled=True))

    h.run(disable)
    refused(exchange(h, code, basic_auth(cid, secret)))


def test_dpop_binds_the_tokens(h: Harness) -> None:
    cid, _ = rp(h, public=True)
    code = new_code(h, cid, user_id(h, "bob"))
    key = ProofKey()
    proof = key.proof("POST", "http://testserver/oauth/token", iat=h.svc.clock.now())
    r = h.client.post("/oauth/token", data=code.form(client_id=cid), headers={"DPoP": proof})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "DPoP"
    assert parts(body["access_token"])[1]["cnf"] == {"jkt": key.jkt}
    # a public client's refresh tokens are bound to the key too: no refresh without a proof
    r = h.client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        headers={},
    )
    refused(r)


def test_refresh_renews_the_id_token(h: Harness) -> None:
    cid, secret = rp(h)
    bob = user_id(h, "bob")
    code = new_code(h, cid, bob, nonce="first-only")
    first = exchange(h, code, basic_auth(cid, secret)).json()
    assert h.clock is not None
    h.clock.advance(120)
    r = h.client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers=basic_auth(cid, secret),
    )
    assert r.status_code == 200, r.text
    old, new = parts(first["id_token"])[1], parts(r.json()["id_token"])[1]
    for claim in ("iss", "sub", "aud", "auth_time", "sid", "amr", "azp"):
        assert new[claim] == old[claim], claim
    assert new["iat"] == old["iat"] + 120 and "nonce" not in new
    # narrowed to a scope without openid: no ID token
    r = h.client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": r.json()["refresh_token"],
            "scope": "profile",
        },
        headers=basic_auth(cid, secret),
    )
    assert r.status_code == 200, r.text
    assert "id_token" not in r.json()


def test_a_password_login_gets_no_id_token_on_refresh(h: Harness) -> None:
    cid, secret = h.create_client(
        "pw", grants=["password", "refresh_token"], scopes=["openid", "profile"]
    )
    login = h.client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "bob", "password": "correct horse battery"},
        headers=basic_auth(cid, secret),
    ).json()
    assert "id_token" not in login and "openid" in login["scope"]
    r = h.client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": login["refresh_token"]},
        headers=basic_auth(cid, secret),
    )
    assert r.status_code == 200 and "id_token" not in r.json()


def test_sso_session_of_another_user_is_never_mixed_up(h: Harness) -> None:
    cid, secret = rp(h)
    alice_sso = sso_session(h, user_id(h, "alice"))
    code = new_code(h, cid, user_id(h, "alice"), sso=alice_sso)
    claims = parts(exchange(h, code, basic_auth(cid, secret)).json()["id_token"])[1]
    assert claims["sub"] == user_id(h, "alice") and claims["sid"] == alice_sso.id


def test_a_code_is_refused_once_its_sso_session_has_ended(h: Harness) -> None:
    """Signed out between the authorization and the exchange: a login started now would
    escape the logout, so the code is refused."""
    from gatepass.oauth.revocation import end_login

    cid, secret = rp(h)
    code = new_code(h, cid, user_id(h, "bob"))
    h.run(end_login, h.svc, code.sso, reason="logout")
    refused(exchange(h, code, basic_auth(cid, secret)))
