"""POST /signed-urls and GET /edge/verify through the app: issuing, each restriction on its own,
key rotation, and playback JWTs kept apart from access tokens."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from conftest import Harness
from gatepass.clock import FrozenClock


def _uri(url: str) -> str:
    """The request URI part of an absolute URL (what nginx puts in X-Original-URI)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def edge(h: Harness, uri: str, ip: str | None = None) -> int:
    headers = {"X-Original-URI": uri}
    if ip is not None:
        headers["X-Real-IP"] = ip
    return h.client.get("/edge/verify", headers=headers).status_code


def sign(h: Harness, token: str, **body: object) -> dict:
    r = h.client.post("/signed-urls", json=body, headers=h.bearer(token))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def fc() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def h(make_harness, fc: FrozenClock) -> Harness:
    h = make_harness(clock=fc, signed_url_base="https://cdn.example")
    h.create_user("alice", roles=("admin",))
    h.create_user("bob")
    return h


def test_path_url_is_ready_to_use_and_verifies(h: Harness) -> None:
    body = sign(h, h.access_token("alice"), path="/videos/42/master.m3u8")
    assert body["url"].startswith("https://cdn.example/videos/42/master.m3u8?exp=")
    assert body["expires_at"] == int(h.clock.now()) + 600
    assert edge(h, _uri(body["url"])) == 204
    # an exact grant covers nothing else
    assert edge(h, _uri(body["url"]).replace("master.m3u8", "seg1.ts")) == 403


def test_prefix_url_and_its_query_cover_the_whole_prefix(h: Harness) -> None:
    body = sign(h, h.access_token("alice"), prefix="/videos/42/", expires_in=60)
    assert body["url"] == f"https://cdn.example/videos/42/?{body['query']}"
    assert body["expires_at"] == int(h.clock.now()) + 60
    for path in ("/videos/42/master.m3u8", "/videos/42/720p/seg00001.ts"):
        assert edge(h, f"{path}?{body['query']}") == 204
    for path in ("/videos/420/x", "/videos/43/x", "/videos/42/../43/x", "/videos/42/%2e%2e/43/x"):
        assert edge(h, f"{path}?{body['query']}") == 403


def test_each_restriction_at_the_edge(h: Harness) -> None:
    body = sign(h, h.access_token("alice"), prefix="/v/", bind_ip="203.0.113.7", expires_in=30)
    uri = "/v/seg.ts?" + body["query"]
    assert edge(h, uri, "203.0.113.7") == 204
    assert edge(h, uri, "203.0.113.8") == 403  # wrong address
    assert edge(h, uri) == 403  # no address
    assert edge(h, uri[:-2] + ("AA" if uri[-2:] != "AA" else "BB"), "203.0.113.7") == 403
    exp = body["expires_at"]
    assert edge(h, uri.replace(f"exp={exp}", f"exp={exp + 1}"), "203.0.113.7") == 403
    h.clock.advance(30)
    assert edge(h, uri, "203.0.113.7") == 403  # expired


def test_edge_refuses_without_or_with_repeated_headers(h: Harness) -> None:
    body = sign(h, h.access_token("alice"), path="/a.mp4")
    uri = _uri(body["url"])
    assert h.client.get("/edge/verify").status_code == 403
    r = h.client.get(
        "/edge/verify", headers=[("X-Original-URI", uri), ("X-Original-URI", "/other")]
    )
    assert r.status_code == 403
    assert r.content == b""
    ok = h.client.get("/edge/verify", headers={"X-Original-URI": uri})
    assert ok.status_code == 204 and ok.content == b""


def test_only_callers_with_the_role_or_scope_may_sign(h: Harness) -> None:
    r = h.client.post("/signed-urls", json={"path": "/a"})
    assert r.status_code == 401
    r = h.client.post("/signed-urls", json={"path": "/a"}, headers=h.bearer(h.access_token("bob")))
    assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
    # a service client with the scope urls:sign may sign
    cid, secret = h.create_client("cdn-signer", grants=["client_credentials"], scopes=["urls:sign"])
    r = h.client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(cid, secret))
    assert r.status_code == 200, r.text
    body = sign(h, r.json()["access_token"], path="/a")
    assert edge(h, _uri(body["url"])) == 204


def test_the_signing_role_counts_only_in_tokens_of_the_built_in_client(h: Harness) -> None:
    """An admin who signs in to another app must not hand that app the power to sign URLs."""
    cid, secret = h.create_client("third-party")
    r = h.login("alice", client_id=cid, client_secret=secret or "")
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    r = h.client.post("/signed-urls", json={"path": "/a"}, headers=h.bearer(token))
    assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
    assert sign(h, h.access_token("alice"), path="/a")["url"]  # through gatepass: allowed


def test_signing_role_is_configurable(make_harness) -> None:
    h = make_harness(signed_url_role="editor", signed_url_scope="")
    h.create_user("alice", roles=("admin",))
    h.create_user("ed", roles=("editor",))
    r = h.client.post(
        "/signed-urls", json={"path": "/a"}, headers=h.bearer(h.access_token("alice"))
    )
    assert r.status_code == 403
    assert sign(h, h.access_token("ed"), path="/a")["url"].startswith("http://testserver/a?")


@pytest.mark.parametrize(
    "body",
    [
        {"path": "/a", "expires_in": 86401},
        {"path": "/a", "expires_in": 0},
        {"path": "/a", "expires_in": "60"},
        {"path": "/a", "expires_in": 1.5},
        {"path": "a"},
        {"path": "/a/../b"},
        {"path": "/a//b"},
        {"path": "/a\\b"},
        {"path": "/a%2fb"},
        {"prefix": "/videos/42"},
        {"path": "/a", "prefix": "/b/"},
        {},
        {"path": "/a", "bind_ip": "not-an-ip"},
        {"path": "/a", "format": "gif"},
        {"path": "/a", "extra": 1},
        {"video_id": "42"},
        {"video_id": "../43", "format": "jwt"},
        {"path": "/videos/42", "format": "jwt"},
        {"path": "/a", "format": "nginx"},
    ],
)
def test_bad_requests_are_refused(h: Harness, body: dict) -> None:
    r = h.client.post("/signed-urls", json=body, headers=h.bearer(h.access_token("alice")))
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_request"


def test_max_lifetime_is_configurable(make_harness) -> None:
    h = make_harness(signed_url_max_ttl=120, signed_url_ttl=60, playback_ttl=120)
    h.create_user("alice", roles=("admin",))
    token = h.access_token("alice")
    assert (
        h.client.post(
            "/signed-urls", json={"path": "/a", "expires_in": 121}, headers=h.bearer(token)
        ).json()["error_description"]
        == "expires_in must be between 1 and 120 seconds."
    )
    sign(h, token, path="/a", expires_in=120)


# -- key rotation -------------------------------------------------------------------------------
def test_rotation_never_refuses_a_valid_url(make_harness, fc: FrozenClock) -> None:
    a = make_harness(clock=fc)  # two instances on one database
    b = make_harness(clock=fc)
    a.create_user("alice", roles=("admin",))
    token = a.access_token("alice")
    before = sign(a, token, prefix="/v/", expires_in=86400)
    old_kid = a.svc.url_keys.ring.active().kid
    a.run(a.svc.url_keys.rotate)
    after = sign(a, token, prefix="/v/", expires_in=600)
    assert f"kid={old_kid}" in before["query"] and f"kid={old_kid}" not in after["query"]
    # b has not reloaded since the rotation: it already knew the new key as "next"
    for h in (a, b):
        assert edge(h, "/v/x?" + before["query"]) == 204
        assert edge(h, "/v/x?" + after["query"]) == 204
    b.run(b.svc.url_keys.reload)
    fc.advance(86399)
    assert edge(b, "/v/x?" + before["query"]) == 204  # the old key lives as long as its URLs
    a.run(a.svc.url_keys.rotate)  # a second rotation before the first finished retiring
    assert edge(a, "/v/x?" + before["query"]) == 204


def test_running_instances_pick_up_rotations_made_elsewhere(make_harness) -> None:
    import time

    a = make_harness(key_refresh_interval=1)
    # same database, its own keys in memory; reloading every 3 s, so that its reload rarely
    # falls between the rotations below and the first check on a busy machine
    b = make_harness(key_refresh_interval=3)
    a.create_user("alice", roles=("admin",))
    token = a.access_token("alice")
    a.run(a.svc.url_keys.rotate)
    a.run(a.svc.url_keys.rotate)  # now a key signs that b has never seen
    uri = _uri(sign(a, token, path="/a")["url"])
    assert edge(a, uri) == 204
    assert edge(b, uri) == 403
    deadline = time.monotonic() + 10
    while edge(b, uri) != 204 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert edge(b, uri) == 204  # its periodic reload (no request touched the database)


def test_retired_key_is_refused_after_its_urls_expired(h: Harness) -> None:
    from gatepass.core import signed_url as su

    old = h.svc.url_keys.ring.active()
    h.run(h.svc.url_keys.rotate)
    retire_at = next(k for k in h.svc.url_keys.ring.keys if k.kid == old.kid).retire_at
    assert retire_at == h.clock.now() + 86400 + 10 + 60
    # a URL made with the old key that outlives it (as only a holder of the old key could)
    forged = su.sign(old.secret, old.kid, kind="path", scope="/a", exp=int(retire_at) + 3600)
    assert edge(h, forged) == 204
    h.clock.advance(retire_at - h.clock.now())
    assert edge(h, forged) == 403  # no reload needed: the verifier knows when the key ends
    h.run(h.svc.url_keys.rotate)
    rows = {r.kid: r.state for r in h.run(h.svc.url_keys.rows)}
    assert rows[old.kid] == "retired"
    assert edge(h, forged) == 403


def test_unknown_key_id_is_refused(h: Harness) -> None:
    body = sign(h, h.access_token("alice"), path="/a")
    kid = h.svc.url_keys.ring.active().kid
    assert edge(h, _uri(body["url"]).replace(f"kid={kid}", "kid=000000000000")) == 403


def test_url_key_secrets_are_sealed_at_rest(h: Harness) -> None:
    rows = h.run(h.svc.url_keys.rows)
    assert {r.state for r in rows} == {"active", "next"}
    secrets_ = {k.kid: k.secret for k in h.svc.url_keys.ring.keys}
    for r in rows:
        assert secrets_[r.kid] not in r.sealed_secret
    signing_kids = {k.kid for k in h.svc.keys.ring.keys}
    assert not signing_kids & set(secrets_)


# -- playback JWTs ------------------------------------------------------------------------------
def _claims(token: str) -> tuple[dict, dict]:
    import json

    from gatepass.core.jose import b64url_decode

    h64, p64, _ = token.split(".")
    return json.loads(b64url_decode(h64)), json.loads(b64url_decode(p64))


def test_playback_url(h: Harness) -> None:
    body = sign(h, h.access_token("alice"), video_id="42", format="jwt")
    assert body["url"].startswith("https://cdn.example/videos/42?token=")
    token = body["url"].split("token=", 1)[1]
    header, claims = _claims(token)
    assert header == {
        "alg": "HS256",
        "typ": "playback+jwt",
        "kid": h.svc.url_keys.ring.active().kid,
    }
    assert claims["vid"] == "42" and claims["aud"] == "gatepass-playback"
    assert claims["exp"] - claims["iat"] == 3600 == body["expires_at"] - int(h.clock.now())
    assert claims["sub"] == _claims(h.access_token("alice"))[1]["sub"]
    assert edge(h, f"/videos/42?token={token}") == 204
    assert edge(h, f"/videos/42/720p/seg1.ts?token={token}") == 204
    for other in ("/videos/43", "/videos/420", "/videos/42/../43/x", "/other/42"):
        assert edge(h, f"{other}?token={token}") == 403
    h.clock.advance(3600)
    assert edge(h, f"/videos/42?token={token}") == 403


def test_playback_jwt_is_refused_as_an_access_token(h: Harness) -> None:
    body = sign(h, h.access_token("alice"), video_id="42", format="jwt")
    playback_token = body["url"].split("token=", 1)[1]
    r = h.client.get("/api/profile", headers=h.bearer(playback_token))
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    r = h.client.post("/signed-urls", json={"path": "/a"}, headers=h.bearer(playback_token))
    assert r.status_code == 401


@pytest.mark.parametrize(
    "overrides",
    [{}, {"signing_alg": "HS256", "audience": "gatepass-playback"}],
    ids=["ES256", "HS256-same-audience"],
)
def test_access_token_is_refused_as_a_playback_token(make_harness, overrides: dict) -> None:
    from gatepass.core.jose import b64url_encode

    # even with HS256 access tokens whose audience is the playback audience
    h = make_harness(**overrides)
    h.create_user("alice", roles=("admin",))
    access = h.access_token("alice")
    assert h.client.get("/api/profile", headers=h.bearer(access)).status_code == 200
    assert edge(h, f"/videos/42?token={access}") == 403
    # re-typed as a playback token it no longer verifies (the signature covers the header)
    _, payload, sig = access.split(".")
    kid = h.svc.url_keys.ring.active().kid
    for header in (
        b'{"alg":"HS256","typ":"playback+jwt"}',
        b'{"alg":"HS256","typ":"playback+jwt","kid":"%s"}' % kid.encode(),
    ):
        assert edge(h, f"/videos/42?token={b64url_encode(header)}.{payload}.{sig}") == 403


def test_playback_binding_and_lifetime(h: Harness) -> None:
    body = sign(
        h,
        h.access_token("alice"),
        video_id="v_9",
        format="jwt",
        bind_ip="203.0.113.0/24",
        expires_in=60,
    )
    token = body["url"].split("token=", 1)[1]
    assert _claims(token)[1]["exp"] - _claims(token)[1]["iat"] == 60
    assert edge(h, f"/videos/v_9/a.ts?token={token}", "203.0.113.99") == 204
    assert edge(h, f"/videos/v_9/a.ts?token={token}", "198.51.100.1") == 403


# -- nginx secure_link ------------------------------------------------------------------------
def test_nginx_secure_link_format(make_harness) -> None:
    import base64
    import hashlib

    h = make_harness(secure_link_secret="nginx-secret-0123456789")
    h.create_user("alice", roles=("admin",))
    body = sign(h, h.access_token("alice"), path="/s/videos/42/seg1.ts", format="nginx")
    url = body["url"]
    exp = body["expires_at"]
    md5 = (
        base64.urlsafe_b64encode(
            hashlib.md5(f"{exp}/s/videos/42/seg1.ts nginx-secret-0123456789".encode()).digest()
        )
        .rstrip(b"=")
        .decode()
    )
    assert url == f"http://testserver/s/videos/42/seg1.ts?md5={md5}&expires={exp}"
    # a prefix: MD5 of "<exp>:prefix:<prefix> <secret>", the prefix in the query as it is
    body = sign(h, h.access_token("alice"), prefix="/hls/42/", format="nginx")
    exp = body["expires_at"]
    md5 = (
        base64.urlsafe_b64encode(
            hashlib.md5(f"{exp}:prefix:/hls/42/ nginx-secret-0123456789".encode()).digest()
        )
        .rstrip(b"=")
        .decode()
    )
    assert body["query"] == f"md5={md5}&expires={exp}&prefix=/hls/42/"
    assert body["url"] == f"http://testserver/hls/42/?{body['query']}"
    for bad in (
        {"prefix": "/s/été/", "format": "nginx"},  # would need escapes nginx's check cannot read
        {"prefix": "/s/a b/", "format": "nginx"},
        {"prefix": "/s/a+b/", "format": "nginx"},
        {"prefix": "/s/../", "format": "nginx"},
        {"prefix": "/s", "format": "nginx"},
        {"path": "/s/a", "format": "nginx", "bind_ip": "10.0.0.1"},
    ):
        r = h.client.post("/signed-urls", json=bad, headers=h.bearer(h.access_token("alice")))
        assert r.status_code == 400


# -- signing for a viewer (an app's backend, "subject") -----------------------------------------
def _backend_token(h: Harness, scopes: tuple[str, ...] = ("urls:sign",)) -> str:
    cid, secret = h.create_client("video-api", grants=["client_credentials"], scopes=list(scopes))
    r = h.client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(cid, secret))
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_backend_with_signing_scope_signs_playback_for_a_viewer(h: Harness, caplog) -> None:
    import logging

    viewer = h.create_user("carol")
    backend = _backend_token(h)
    with caplog.at_level(logging.INFO, logger="gatepass.oauth.signed_urls"):
        body = sign(h, backend, video_id="42", format="jwt", subject=viewer.id)
    token = body["url"].split("token=", 1)[1]
    assert _claims(token)[1]["sub"] == viewer.id  # the viewer, not the backend
    assert edge(h, f"/videos/42/seg1.ts?token={token}") == 204
    [record] = [r for r in caplog.records if r.getMessage() == "signed url issued"]
    assert record.subject == viewer.id and record.caller == _claims(backend)[1]["sub"]
    assert record.grant == "video_id=42" and record.expires_at == body["expires_at"]
    # without a subject the URL is the caller's own
    own = sign(h, backend, video_id="42", format="jwt")["url"].split("token=", 1)[1]
    assert _claims(own)[1]["sub"] == _claims(backend)[1]["sub"]


def test_subject_on_an_hmac_grant_is_recorded(h: Harness, caplog) -> None:
    import logging

    viewer = h.create_user("carol")
    with caplog.at_level(logging.INFO, logger="gatepass.oauth.signed_urls"):
        body = sign(h, _backend_token(h), prefix="/videos/42/", subject=viewer.id)
    assert edge(h, "/videos/42/seg1.ts?" + body["query"]) == 204
    [record] = [r for r in caplog.records if r.getMessage() == "signed url issued"]
    assert record.subject == viewer.id and record.grant == "prefix=/videos/42/"


def test_subject_refused_without_the_signing_scope(h: Harness) -> None:
    """The signing role alone (an admin user) may sign for itself, never name someone else."""
    viewer = h.create_user("carol")
    for token in (h.access_token("alice"), h.access_token("bob")):
        r = h.client.post(
            "/signed-urls",
            json={"video_id": "42", "format": "jwt", "subject": viewer.id},
            headers=h.bearer(token),
        )
        assert r.status_code == 403, r.text
        assert r.json()["error"] == "insufficient_scope"
        assert "token" not in r.text


def test_subject_refused_when_the_signing_scope_is_off(make_harness) -> None:
    h = make_harness(signed_url_scope="", signed_url_role="signer")
    h.create_user("sam", roles=("signer",))
    viewer = h.create_user("carol")
    r = h.client.post(
        "/signed-urls",
        json={"video_id": "42", "format": "jwt", "subject": viewer.id},
        headers=h.bearer(h.access_token("sam")),
    )
    assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"


@pytest.mark.parametrize(
    "subject", ["", "no-such-user", "x" * 37, "x" * 65, 42, None, ["a"], {"id": "a"}, "a\x00b"]
)
def test_bad_subject_is_refused(h: Harness, subject: object) -> None:
    body: dict = {"video_id": "42", "format": "jwt", "subject": subject}
    if subject is None:  # JSON null is "no subject": the caller's own URL
        assert sign(h, _backend_token(h), **body)["url"]
        return
    r = h.client.post("/signed-urls", json=body, headers=h.bearer(_backend_token(h)))
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_request"


def test_disabled_user_is_not_a_subject(h: Harness) -> None:
    viewer = h.create_user("carol")

    async def disable() -> None:
        from gatepass.storage.models import User

        async with h.svc.sessions() as s, s.begin():
            (await s.get(User, viewer.id)).disabled = True

    h.run(disable)
    r = h.client.post(
        "/signed-urls",
        json={"video_id": "42", "format": "jwt", "subject": viewer.id},
        headers=h.bearer(_backend_token(h)),
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


@pytest.mark.parametrize("bind_ip", ["fe80::1%eth0", "fe80::1%25eth0", "fe80::%eth0/64"])
def test_bind_ip_with_an_ipv6_zone_id_is_refused_at_signing(h: Harness, bind_ip: str) -> None:
    """A zone id made a URL that never verified (the signer percent-encoded the %, the
    verifier compared the encoded form): refused with a clear 400 instead."""
    token = h.access_token("alice")
    for body in ({"path": "/a"}, {"video_id": "42", "format": "jwt"}):
        r = h.client.post(
            "/signed-urls", json={**body, "bind_ip": bind_ip}, headers=h.bearer(token)
        )
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "invalid_request" and "zone id" in r.json()["error_description"]
    # the same address without its zone signs, and verifies for that address
    url = sign(h, token, path="/a", bind_ip="fe80::1")["url"]
    assert edge(h, _uri(url), "fe80::1") == 204
    assert edge(h, _uri(url).replace("ip=fe80::1", "ip=fe80::1%25eth0"), "fe80::1") == 403
