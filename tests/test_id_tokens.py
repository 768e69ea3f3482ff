"""ID tokens (OpenID Connect Core §2) on their own key ring: made on first start, published in
the one JWKS, rotated and retired with the access keys' machinery, never accepted as access
tokens (by the server or the SDK), and read back as an ``id_token_hint`` (RP-Initiated Logout
1.0 §2) by ``oauth/id_tokens.verify_hint``, which never accepts an access token."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from conftest import Harness, basic_auth
from gatepass.cli import main
from gatepass.clock import FrozenClock
from gatepass.core.access_token import ACCESS_TOKEN_TYP, build_claims
from gatepass.oauth.id_tokens import mint, verify_hint
from gatepass.sdk import errors
from gatepass.sdk.verifier import Verifier
from oidc_codes import new_code, parts, rp, user_id


@pytest.fixture
def h(make_harness: Callable[..., Harness]) -> Harness:
    harness = make_harness(clock=FrozenClock())
    harness.create_user("alice", roles=("admin",))
    harness.create_user("bob")
    return harness


def id_token_of(h: Harness, name: str = "bob") -> tuple[str, dict[str, Any]]:
    """An ID token from a real code exchange, and the whole answer."""
    cid, secret = rp(h)
    code = new_code(h, cid, user_id(h, name))
    r = h.client.post("/oauth/token", data=code.form(), headers=basic_auth(cid, secret))
    assert r.status_code == 200, r.text
    return r.json()["id_token"], r.json()


def jwks(h: Harness) -> dict[str, Any]:
    return dict(h.client.get("/.well-known/jwks.json").json())


def test_the_id_token_ring_is_made_on_first_start_and_published(h: Harness) -> None:
    ring = h.svc.id_keys.ring
    assert sorted(k.state for k in ring.keys) == ["active", "next"]
    assert {k.alg for k in ring.keys} == {"RS256"}
    published = {k["kid"]: k for k in jwks(h)["keys"]}
    for key in ring.keys:
        assert published[key.kid]["alg"] == "RS256" and published[key.kid]["use"] == "sig"
        assert published[key.kid]["kty"] == "RSA"
    rows = h.run(h.svc.id_keys.rows)
    assert {r.purpose for r in rows} == {"id_token"}
    assert {r.purpose for r in h.run(h.svc.keys.rows)} == {"access"}


@pytest.mark.parametrize("alg,kty", [("ES256", "EC"), ("EdDSA", "OKP")])
def test_the_id_token_alg_setting(make_harness, alg: str, kty: str) -> None:
    h: Harness = make_harness(id_token_alg=alg)
    h.create_user("bob")
    token, _ = id_token_of(h)
    header = parts(token)[0]
    assert header["alg"] == alg
    (published,) = [k for k in jwks(h)["keys"] if k["kid"] == header["kid"]]
    assert published["alg"] == alg and published["kty"] == kty
    meta = h.client.get("/.well-known/openid-configuration").json()
    assert meta["id_token_signing_alg_values_supported"] == [alg]
    assert verify_hint(h.svc, token) is not None


def test_the_server_verifier_never_holds_an_id_token_key(h: Harness) -> None:
    id_kids = {k.kid for k in h.svc.id_keys.ring.keys}
    assert not id_kids & set(h.svc.verifier._keys)
    h.run(h.svc.id_keys.rotate)
    h.run(h.svc.keys.rotate)
    assert not {k.kid for k in h.svc.id_keys.ring.keys} & set(h.svc.verifier._keys)


def test_an_id_token_is_refused_by_api_profile(h: Harness) -> None:
    token, _ = id_token_of(h)
    r = h.client.get("/api/profile", headers=h.bearer(token))
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_a_token_typed_at_jwt_but_signed_by_an_id_token_key_is_refused(h: Harness) -> None:
    """The allow-list is per key: even with the right typ and claims, an ID-token key's
    signature does not make an access token."""
    claims = build_claims(
        issuer="http://testserver",
        subject=user_id(h, "alice"),
        audience="gatepass",
        client_id="gatepass",
        scope=["gatepass:admin", "profile"],
        roles=["admin"],
        now=h.svc.clock.now(),
        ttl=300,
        sid=None,
    )
    forged = h.svc.id_keys.ring.sign(claims, ACCESS_TOKEN_TYP)
    genuine = h.svc.keys.ring.sign(claims, ACCESS_TOKEN_TYP)
    assert h.client.get("/api/profile", headers=h.bearer(genuine)).status_code == 200
    r = h.client.get("/api/profile", headers=h.bearer(forged))
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"


def test_the_sdk_refuses_an_id_token_even_with_its_key_in_the_jwks(h: Harness) -> None:
    token, answer = id_token_of(h)
    published = jwks(h)
    assert parts(token)[0]["kid"] in {k["kid"] for k in published["keys"]}
    clock = h.svc.clock.now
    verifier = Verifier.from_jwks("http://testserver", published, audience="gatepass", clock=clock)
    assert verifier.verify(answer["access_token"]).sub == user_id(h, "bob")  # the control
    with pytest.raises(errors.InvalidTokenType):
        verifier.verify(token)
    # with the client id as the audience (what an ID token's aud is): still refused, for typ
    client_id = parts(token)[1]["aud"]
    verifier = Verifier.from_jwks("http://testserver", published, audience=client_id, clock=clock)
    with pytest.raises(errors.InvalidTokenType):
        verifier.verify(token)


def test_verify_hint_accepts_our_id_tokens_even_expired(h: Harness) -> None:
    token, _ = id_token_of(h)
    claims = verify_hint(h.svc, token)
    assert claims is not None and claims["sub"] == user_id(h, "bob")
    assert h.clock is not None
    h.clock.advance(2 * 3600)  # past its exp (one hour)
    assert verify_hint(h.svc, token) == claims


def test_verify_hint_refuses_an_access_token(h: Harness) -> None:
    _, answer = id_token_of(h)
    assert verify_hint(h.svc, answer["access_token"]) is None
    assert verify_hint(h.svc, h.access_token("bob")) is None


def test_verify_hint_refuses_an_id_token_signed_by_an_access_key(h: Harness) -> None:
    token, _ = id_token_of(h)
    claims = parts(token)[1]
    forged = h.svc.keys.ring.sign(claims, "JWT")  # right typ and claims, wrong ring
    assert verify_hint(h.svc, forged) is None


def test_verify_hint_refuses_another_issuer_and_garbage(make_harness, h: Harness, tmp_path) -> None:
    other: Harness = make_harness(issuer="https://other.example", data_dir=tmp_path / "other")
    theirs = mint(
        other.svc,
        user_id="x",
        client_id="c",
        auth_time=other.svc.clock.now(),
        amr=["pwd"],
        sid=None,
    )
    assert verify_hint(other.svc, theirs) is not None
    assert verify_hint(h.svc, theirs) is None
    token, _ = id_token_of(h)
    claims = parts(token)[1]
    wrong_iss = h.svc.id_keys.ring.sign({**claims, "iss": "https://other.example"}, "JWT")
    assert verify_hint(h.svc, wrong_iss) is None  # our key, another issuer
    no_sub = h.svc.id_keys.ring.sign({k: v for k, v in claims.items() if k != "sub"}, "JWT")
    assert verify_hint(h.svc, no_sub) is None
    head, body, sig = token.split(".")
    for bad in ("", "a.b.c", token + "x", f"{head}.{body}.", f"{head}..{sig}", "x" * 10_000):
        assert verify_hint(h.svc, bad) is None
    assert verify_hint(h.svc, None) is None  # type: ignore[arg-type]


def test_id_token_rotation_over_http_by_purpose(h: Harness) -> None:
    admin = h.bearer(h.admin_token("alice"))
    token, _ = id_token_of(h)
    access_before = h.svc.keys.ring.active().kid
    id_next = next(k.kid for k in h.svc.id_keys.ring.keys if k.state == "next")
    r = h.client.post("/admin/keys/rotate", headers=admin, json={"purpose": "id_token"})
    assert r.status_code == 200, r.text
    assert r.json()["id_token_active"] == id_next and r.json()["active"] == access_before
    assert {k["purpose"] for k in r.json()["keys"]} == {"access", "id_token"}
    fresh, _ = id_token_of(h)
    assert parts(fresh)[0]["kid"] == id_next
    assert verify_hint(h.svc, token) is not None  # the old key is retiring, still published
    assert parts(token)[0]["kid"] in {k["kid"] for k in jwks(h)["keys"]}
    # it leaves once every ID token it signed has expired
    assert h.clock is not None
    h.clock.advance(3600 + 30 + 61)
    assert parts(token)[0]["kid"] not in {k["kid"] for k in jwks(h)["keys"]}
    assert verify_hint(h.svc, token) is None


def test_rotation_of_both_rings_by_default_and_emergency(h: Harness) -> None:
    admin = h.bearer(h.admin_token("alice"))
    token, _ = id_token_of(h)
    access_before, id_before = h.svc.keys.ring.active().kid, h.svc.id_keys.ring.active().kid
    r = h.client.post("/admin/keys/rotate", headers=admin, json={"revoke_old": True})
    assert r.status_code == 200
    assert r.json()["active"] != access_before and r.json()["id_token_active"] != id_before
    kids = {k["kid"] for k in jwks(h)["keys"]}
    assert access_before not in kids and id_before not in kids
    assert verify_hint(h.svc, token) is None  # retired at once


def test_rotation_purpose_must_be_known(h: Harness) -> None:
    admin = h.bearer(h.admin_token("alice"))
    for purpose in ("id", "", 1, None, ["access"], "ACCESS"):
        r = h.client.post("/admin/keys/rotate", headers=admin, json={"purpose": purpose})
        assert r.status_code == 400 and r.json()["error"] == "invalid_request", purpose


def test_another_instance_picks_up_an_id_token_rotation(make_harness, tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    a: Harness = make_harness(database_url=db)
    b: Harness = make_harness(database_url=db)
    a.run(a.svc.id_keys.rotate)
    b.run(b.svc.id_keys.reload)  # what the periodic refresher does
    assert b.svc.id_keys.ring.active().kid == a.svc.id_keys.ring.active().kid
    assert b.svc.keys.ring.active().kid == a.svc.keys.ring.active().kid


def test_cli_keys_by_purpose(tmp_path, monkeypatch, capsys) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("GATEPASS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GATEPASS_SECRET_KEY", "cli-test-secret-0123456789abcdefgh")
    data_dir = str(tmp_path / "data")
    args = ["--data-dir", data_dir, "--json"]
    assert main(["keys", "list", "--purpose", "id_token", *args]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {k["purpose"] for k in listed} == {"id_token"} and {k["alg"] for k in listed} == {
        "RS256"
    }
    nxt = next(k["kid"] for k in listed if k["state"] == "next")
    assert main(["keys", "list", "--purpose", "access", *args]) == 0
    access = json.loads(capsys.readouterr().out)
    assert {k["purpose"] for k in access} == {"access"}
    assert main(["keys", "rotate", "--purpose", "id_token", *args]) == 0
    assert json.loads(capsys.readouterr().out) == {"id_token": {"active": nxt, "alg": "RS256"}}
    assert main(["keys", "list", "--purpose", "access", *args]) == 0
    assert json.loads(capsys.readouterr().out) == access  # untouched
    with pytest.raises(SystemExit) as exited:
        main(["keys", "rotate", "--purpose", "nope", *args])
    assert exited.value.code == 2


def test_cli_token_inspect_names_an_id_token(tmp_path, monkeypatch, capsys) -> None:
    import asyncio
    import os

    from gatepass.oauth.services import open_services
    from gatepass.settings import load_settings

    for key in list(os.environ):
        if key.startswith("GATEPASS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GATEPASS_SECRET_KEY", "cli-test-secret-0123456789abcdefgh")
    data_dir = str(tmp_path / "data")

    async def make() -> str:
        svc = await open_services(load_settings(data_dir=data_dir))
        try:
            return mint(
                svc, user_id="u1", client_id="c", auth_time=svc.clock.now(), amr=["pwd"], sid="s"
            )
        finally:
            await svc.close()

    token = asyncio.run(make())
    assert main(["token", "inspect", token, "--json", "--data-dir", data_dir]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["verified"] is False and report["id_token"] is True
    assert main(["token", "inspect", token, "--data-dir", data_dir]) == 1
    out = capsys.readouterr().out
    assert "does NOT verify" in out and "an ID token" in out
