"""Operations endpoints and every signing algorithm end to end."""

from __future__ import annotations

import pytest

from conftest import Harness


def test_healthz_and_readyz(gp: Harness) -> None:
    assert gp.client.get("/healthz").json() == {"status": "ok"}
    r = gp.client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"] == {"database": "ok"}


def test_readyz_reports_unreachable_redis(make_harness, tmp_path) -> None:
    from servers import free_port

    h: Harness = make_harness(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    r = h.client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["redis"] == "unreachable"


def test_readyz_with_real_redis(make_harness, redis_url) -> None:
    h: Harness = make_harness(redis_url=redis_url)
    r = h.client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"]["redis"] == "ok"


def test_metrics_count_issuance_verification_and_latency(gp: Harness) -> None:
    token = gp.access_token("bob")
    gp.client.get("/api/profile", headers=gp.bearer(token))
    gp.client.get("/api/profile", headers=gp.bearer("x.y.z"))
    gp.login("bob", "wrong password")
    text = gp.client.get("/metrics").text
    assert 'gatepass_tokens_issued_total{grant_type="password"} 1.0' in text
    assert 'gatepass_verifications_total{result="valid"} 1.0' in text
    assert 'gatepass_verifications_total{result="invalid"} 1.0' in text
    assert 'gatepass_token_errors_total{error="invalid_grant"} 1.0' in text
    assert 'gatepass_request_duration_seconds_count{route="/api/profile"} 2.0' in text
    assert token not in text


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256", "HS256"])
def test_every_signing_algorithm_end_to_end(make_harness, alg: str) -> None:
    h: Harness = make_harness(signing_alg=alg)
    h.create_user("bob")
    token = h.access_token("bob")
    assert h.client.get("/api/profile", headers=h.bearer(token)).status_code == 200
    jwks = h.client.get("/.well-known/jwks.json").json()["keys"]
    id_kids = {k.kid for k in h.svc.id_keys.ring.keys}  # the ID-token ring: RS256
    assert {k["alg"] for k in jwks if k["kid"] in id_kids} == {"RS256"}
    access = [k for k in jwks if k["kid"] not in id_kids]
    if alg == "HS256":
        assert access == []  # a shared secret is never published
    else:
        assert {k["alg"] for k in access} == {alg}


def test_changing_the_id_token_algorithm_rotates_its_ring_only(make_harness, tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'alg.db'}"
    first: Harness = make_harness(database_url=db)
    access, id_key = first.svc.keys.ring.active().kid, first.svc.id_keys.ring.active().kid
    second: Harness = make_harness(database_url=db, id_token_alg="ES256")
    assert second.svc.id_keys.ring.active().alg == "ES256"
    assert second.svc.keys.ring.active().kid == access
    retiring = [k for k in second.svc.id_keys.ring.keys if k.state == "retiring"]
    assert [k.kid for k in retiring] == [id_key]  # still published for the hints it signed


def test_changing_the_algorithm_rotates_to_a_key_of_it(make_harness, tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'alg.db'}"
    first: Harness = make_harness(database_url=db)
    first.create_user("bob")
    old = first.access_token("bob")
    second: Harness = make_harness(database_url=db, signing_alg="EdDSA")
    assert second.svc.keys.ring.active().alg == "EdDSA"
    assert second.client.get("/api/profile", headers=second.bearer(old)).status_code == 200


def test_readyz_answers_503_while_the_revocation_feed_is_down(make_harness) -> None:
    """Redis answering a ping is not enough: with the feed down every verification is a 503."""
    from servers import PrivateRedis

    redis_server = PrivateRedis().start()
    try:
        h: Harness = make_harness(redis_url=redis_server.url)
        assert h.client.get("/readyz").json()["checks"] == {
            "database": "ok",
            "redis": "ok",
            "denylist": "ok",
        }
        assert h.svc.denylist.redis is not None
        h.svc.denylist.redis.close()  # the feed stops; Redis itself is still up
        r = h.client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"] == {"database": "ok", "redis": "ok", "denylist": "unavailable"}
    finally:
        redis_server.kill()
