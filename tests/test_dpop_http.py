"""DPoP (RFC 9449) through the server: the token endpoint (§5) for every grant, bound tokens
(§6: cnf.jkt in JWTs, in opaque rows and introspection), public clients' refresh tokens bound
to the key, ``/api/profile`` (§7), §7.1 errors, server nonces (§8), and the attacks of issue 14
each in its own test. No answer to a bad proof is ever a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from conftest import PASSWORD, Harness, basic_auth
from dpop_keys import ProofKey
from gatepass.core.jose import b64url_decode

BASE = "http://testserver"  # the harness's issuer
TOKEN_URL = BASE + "/oauth/token"
PROFILE_URL = BASE + "/api/profile"


def claims_of(token: str) -> dict[str, Any]:
    return dict(json.loads(b64url_decode(token.split(".")[1])))


def token_request(
    gp: Harness, form: dict[str, str], key: ProofKey | None, headers: Any = None, **proof: Any
) -> httpx.Response:
    hdrs = dict(headers or {})
    if key is not None:
        hdrs["DPoP"] = key.proof("POST", TOKEN_URL, **proof)
    return gp.client.post("/oauth/token", data=form, headers=hdrs)


def service_client(gp: Harness, **kw: Any) -> dict[str, str]:
    cid, secret = gp.create_client("svc", grants=["client_credentials"], **kw)
    return basic_auth(cid, secret)


def cc_token(gp: Harness, key: ProofKey, **kw: Any) -> str:
    r = token_request(gp, {"grant_type": "client_credentials"}, key, service_client(gp, **kw))
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "DPoP"
    return str(r.json()["access_token"])


def profile(gp: Harness, access: str, key: ProofKey | None, scheme: str = "DPoP", **proof: Any):
    headers = {"Authorization": f"{scheme} {access}"}
    if key is not None:
        proof.setdefault("token", access)
        headers["DPoP"] = key.proof("GET", PROFILE_URL, **proof)
    return gp.client.get("/api/profile", headers=headers)


def dpop_refusal(r: httpx.Response, error: str, status: int = 401) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"] == error
    if status == 401:
        challenge = r.headers["www-authenticate"]
        assert challenge.startswith("DPoP ") and f'error="{error}"' in challenge
        assert 'algs="ES256 EdDSA RS256"' in challenge


@pytest.fixture(scope="module")
def key() -> ProofKey:
    return ProofKey()


@pytest.fixture(scope="module")
def other() -> ProofKey:
    return ProofKey()


# -- issuing bound tokens -----------------------------------------------------------------------


def test_client_credentials_with_a_proof_issues_a_dpop_bound_jwt(gp: Harness, key: ProofKey):
    token = cc_token(gp, key)
    assert claims_of(token)["cnf"] == {"jkt": key.jkt}
    r = profile(gp, token, key)
    assert r.status_code == 200, r.text


def test_without_a_proof_the_token_is_a_bearer_token(gp: Harness) -> None:
    r = token_request(gp, {"grant_type": "client_credentials"}, None, service_client(gp))
    assert r.json()["token_type"] == "Bearer" and "cnf" not in claims_of(r.json()["access_token"])


def test_password_grant_binds_access_and_public_refresh_token(gp: Harness, key: ProofKey):
    r = token_request(gp, {"grant_type": "password", "username": "bob", "password": PASSWORD}, key)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "DPoP" and claims_of(body["access_token"])["cnf"]["jkt"] == key.jkt
    r = token_request(
        gp, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}, key
    )
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "DPoP"
    assert claims_of(r.json()["access_token"])["cnf"]["jkt"] == key.jkt


def test_refresh_by_a_public_client_without_its_key_is_refused(
    gp: Harness, key: ProofKey, other: ProofKey
) -> None:
    form = {"grant_type": "password", "username": "bob", "password": PASSWORD}
    refresh = token_request(gp, form, key).json()["refresh_token"]
    again = {"grant_type": "refresh_token", "refresh_token": refresh}
    r = token_request(gp, again, None)  # the thief has the token, not the key
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = token_request(gp, again, other)  # nor does a proof by the thief's own key help
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # refused before the rotation: the owner's token still works, no reuse was declared
    r = token_request(gp, again, key)
    assert r.status_code == 200, r.text


def test_a_confidential_clients_refresh_token_is_not_bound_to_the_key(
    gp: Harness, key: ProofKey
) -> None:
    cid, secret = gp.create_client("web")
    auth = basic_auth(cid, secret)
    form = {"grant_type": "password", "username": "bob", "password": PASSWORD}
    refresh = token_request(gp, form, key, auth).json()["refresh_token"]
    r = token_request(gp, {"grant_type": "refresh_token", "refresh_token": refresh}, None, auth)
    assert r.status_code == 200 and r.json()["token_type"] == "Bearer"


def test_opaque_tokens_are_bound_in_their_row_and_introspection(gp: Harness, key: ProofKey):
    token = cc_token(gp, key, token_format="opaque")
    assert token.startswith("gpa_")
    rs_id, rs_secret = gp.create_client("rs", grants=["client_credentials"])
    r = gp.client.post(
        "/oauth/introspect", data={"token": token}, headers=basic_auth(rs_id, rs_secret)
    )
    assert r.json()["active"] is True
    assert r.json()["cnf"] == {"jkt": key.jkt} and r.json()["token_type"] == "DPoP"
    assert profile(gp, token, key).status_code == 200
    dpop_refusal(profile(gp, token, None, scheme="Bearer"), "invalid_token")


def test_introspection_of_a_bound_jwt_shows_cnf(gp: Harness, key: ProofKey) -> None:
    token = cc_token(gp, key)
    rs_id, rs_secret = gp.create_client("rs", grants=["client_credentials"])
    r = gp.client.post(
        "/oauth/introspect", data={"token": token}, headers=basic_auth(rs_id, rs_secret)
    )
    assert r.json()["cnf"] == {"jkt": key.jkt} and r.json()["token_type"] == "DPoP"


def test_a_dpop_client_without_a_proof_is_refused(gp: Harness, key: ProofKey) -> None:
    auth = service_client(gp, dpop_bound_access_tokens=True)
    r = token_request(gp, {"grant_type": "client_credentials"}, None, auth)
    dpop_refusal(r, "invalid_dpop_proof", 400)
    r = token_request(gp, {"grant_type": "client_credentials"}, key, auth)
    assert r.status_code == 200 and r.json()["token_type"] == "DPoP"


def test_metadata_lists_the_dpop_algorithms(gp: Harness) -> None:
    body = gp.client.get("/.well-known/oauth-authorization-server").json()
    assert body["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA", "RS256"]


def test_admin_api_registers_a_dpop_client(gp: Harness) -> None:
    admin = gp.admin_token()
    body = {"name": "spa", "public": True, "dpop_bound_access_tokens": True}
    r = gp.client.post("/admin/clients", json=body, headers=gp.bearer(admin))
    assert r.status_code == 201, r.text
    assert r.json()["dpop_bound_access_tokens"] is True
    r = gp.client.post(
        "/admin/clients", json={**body, "dpop_bound_access_tokens": "yes"}, headers=gp.bearer(admin)
    )
    assert r.status_code == 400


# -- the token endpoint refuses bad proofs ------------------------------------------------------


def test_token_endpoint_refuses_a_replayed_proof(gp: Harness, key: ProofKey) -> None:
    auth = service_client(gp)
    proof = key.proof("POST", TOKEN_URL)
    first = gp.client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={**auth, "DPoP": proof}
    )
    assert first.status_code == 200
    again = gp.client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={**auth, "DPoP": proof}
    )
    dpop_refusal(again, "invalid_dpop_proof", 400)


def test_token_endpoint_refuses_a_proof_for_another_url(gp: Harness, key: ProofKey) -> None:
    auth = service_client(gp)
    proof = key.proof("POST", BASE + "/oauth/revoke")
    r = gp.client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={**auth, "DPoP": proof}
    )
    dpop_refusal(r, "invalid_dpop_proof", 400)


@pytest.mark.parametrize(
    "proofs",
    [["not a jwt"], ["x" * 20000], ["e30.e30.e30"], ["a", "b"]],
    ids=["not-a-jwt", "oversized", "empty-objects", "two-headers"],
)
def test_token_endpoint_answers_malformed_proof_headers_400(
    gp: Harness, key: ProofKey, proofs: list[str]
) -> None:
    auth = service_client(gp)
    if len(proofs) == 2:
        proofs = [key.proof("POST", TOKEN_URL), key.proof("POST", TOKEN_URL)]
    headers = [*auth.items(), *(("DPoP", p) for p in proofs)]
    r = gp.client.post("/oauth/token", data={"grant_type": "client_credentials"}, headers=headers)
    dpop_refusal(r, "invalid_dpop_proof", 400)


def test_server_nonce_is_required_when_configured(make_harness, key: ProofKey) -> None:
    gp = make_harness(dpop_nonce=True)
    auth = service_client(gp)
    r = token_request(gp, {"grant_type": "client_credentials"}, key, auth)
    dpop_refusal(r, "use_dpop_nonce", 400)
    nonce = r.headers["dpop-nonce"]
    r = token_request(gp, {"grant_type": "client_credentials"}, key, auth, nonce=nonce)
    assert r.status_code == 200, r.text


# -- /api/profile: the SDK path with the server's own Verifier ----------------------------------


def test_bound_token_sent_as_bearer_is_refused(gp: Harness, key: ProofKey) -> None:
    r = profile(gp, cc_token(gp, key), None, scheme="Bearer")
    dpop_refusal(r, "invalid_token")


def test_unbound_token_sent_as_dpop_is_refused(gp: Harness, key: ProofKey) -> None:
    r = token_request(gp, {"grant_type": "client_credentials"}, None, service_client(gp))
    dpop_refusal(profile(gp, r.json()["access_token"], key), "invalid_token")


def test_resource_refuses_a_proof_for_another_method(gp: Harness, key: ProofKey) -> None:
    token = cc_token(gp, key)
    headers = {
        "Authorization": f"DPoP {token}",
        "DPoP": key.proof("POST", PROFILE_URL, token=token),
    }
    dpop_refusal(gp.client.get("/api/profile", headers=headers), "invalid_dpop_proof")


def test_resource_refuses_a_proof_for_another_url(gp: Harness, key: ProofKey) -> None:
    token = cc_token(gp, key)
    url = "http://elsewhere.example/api/profile"
    headers = {"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", url, token=token)}
    dpop_refusal(gp.client.get("/api/profile", headers=headers), "invalid_dpop_proof")


def test_resource_ignores_the_query_of_the_request_but_not_in_htu(gp: Harness, key: ProofKey):
    token = cc_token(gp, key)
    headers = {"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", PROFILE_URL, token=token)}
    assert gp.client.get("/api/profile?x=1", headers=headers).status_code == 200
    headers["DPoP"] = key.proof("GET", PROFILE_URL + "?x=1", token=token)
    dpop_refusal(gp.client.get("/api/profile?x=1", headers=headers), "invalid_dpop_proof")


def test_resource_refuses_a_replayed_proof(gp: Harness, key: ProofKey) -> None:
    token = cc_token(gp, key)
    headers = {"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", PROFILE_URL, token=token)}
    assert gp.client.get("/api/profile", headers=headers).status_code == 200
    dpop_refusal(gp.client.get("/api/profile", headers=headers), "invalid_dpop_proof")


def test_resource_refuses_a_proof_without_ath(gp: Harness, key: ProofKey) -> None:
    token = cc_token(gp, key)
    headers = {"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", PROFILE_URL)}
    dpop_refusal(gp.client.get("/api/profile", headers=headers), "invalid_dpop_proof")


def test_resource_refuses_a_wrong_ath(gp: Harness, key: ProofKey) -> None:
    dpop_refusal(profile(gp, cc_token(gp, key), key, token="another"), "invalid_dpop_proof")


def test_resource_refuses_a_proof_by_another_key(gp: Harness, key: ProofKey, other: ProofKey):
    dpop_refusal(profile(gp, cc_token(gp, key), other), "invalid_dpop_proof")


def test_resource_refuses_an_old_proof(gp: Harness, key: ProofKey) -> None:
    import time

    r = profile(gp, cc_token(gp, key), key, iat=time.time() - 3600)
    dpop_refusal(r, "invalid_dpop_proof")


def test_resource_refuses_dpop_without_a_proof(gp: Harness, key: ProofKey) -> None:
    dpop_refusal(profile(gp, cc_token(gp, key), None), "invalid_dpop_proof")


@pytest.mark.parametrize(
    "proofs", [["not a jwt"], ["x" * 20000], ["a", "b"]], ids=["not-a-jwt", "oversized", "two"]
)
def test_resource_answers_malformed_proof_headers_401(
    gp: Harness, key: ProofKey, proofs: list[str]
) -> None:
    token = cc_token(gp, key)
    if len(proofs) == 2:
        proofs = [key.proof("GET", PROFILE_URL, token=token) for _ in range(2)]
    headers = [("Authorization", f"DPoP {token}"), *(("DPoP", p) for p in proofs)]
    dpop_refusal(gp.client.get("/api/profile", headers=headers), "invalid_dpop_proof")


def test_malformed_dpop_authorization_is_401_with_a_dpop_challenge(gp: Harness) -> None:
    r = gp.client.get("/api/profile", headers={"Authorization": "DPoP a b c"})
    dpop_refusal(r, "invalid_token")


# -- the replay cache in Redis: shared by instances, fails closed --------------------------------


def test_a_proof_replayed_against_a_second_instance_on_the_same_redis_is_refused(
    make_harness, redis_url: str, key: ProofKey
) -> None:
    import secrets

    prefix = "t" + secrets.token_hex(6)
    one = make_harness(redis_url=redis_url, redis_prefix=prefix)
    two = make_harness(redis_url=redis_url, redis_prefix=prefix)  # same database, same Redis
    auth = service_client(one)
    proof = key.proof("POST", TOKEN_URL)
    form = {"grant_type": "client_credentials"}
    assert (
        one.client.post("/oauth/token", data=form, headers={**auth, "DPoP": proof}).status_code
        == 200
    )
    r = two.client.post("/oauth/token", data=form, headers={**auth, "DPoP": proof})
    dpop_refusal(r, "invalid_dpop_proof", 400)


def test_token_endpoint_answers_503_when_redis_is_unreachable(
    make_harness, redis_url: str, key: ProofKey
) -> None:
    import secrets

    from servers import TcpRelay

    relay = TcpRelay("127.0.0.1", 6379).start()
    gp = make_harness(
        redis_url=f"redis://127.0.0.1:{relay.port}/0", redis_prefix="t" + secrets.token_hex(6)
    )
    auth = service_client(gp)
    form = {"grant_type": "client_credentials"}
    assert token_request(gp, form, key, auth).status_code == 200
    relay.cut()
    r = token_request(gp, form, key, auth)
    assert r.status_code == 503 and r.json()["error"] == "temporarily_unavailable"
    assert token_request(gp, form, None, auth).status_code == 200  # only DPoP needs the cache


def test_bindings_are_stored_on_both_databases(make_harness, database_url: str, key: ProofKey):
    """The jkt of opaque tokens and of public clients' logins goes through the direct
    statements of storage/token_rows/, one module per database."""
    gp = make_harness(database_url=database_url)
    gp.create_user("bob")
    cid, _ = gp.create_client("spa", public=True, token_format="opaque")
    form = {"grant_type": "password", "username": "bob", "password": PASSWORD, "client_id": cid}
    body = token_request(gp, form, key).json()
    assert body["token_type"] == "DPoP" and body["access_token"].startswith("gpa_")
    assert profile(gp, body["access_token"], key).status_code == 200
    dpop_refusal(profile(gp, body["access_token"], None, scheme="Bearer"), "invalid_token")
    again = {
        "grant_type": "refresh_token",
        "refresh_token": body["refresh_token"],
        "client_id": cid,
    }
    assert token_request(gp, again, None).json()["error"] == "invalid_grant"
    refreshed = token_request(gp, again, key)
    assert refreshed.status_code == 200 and refreshed.json()["token_type"] == "DPoP"
