"""The SDK's key set follows the issuer's: refreshed when its max-age runs out (in the background,
never inside a verification), a key no longer published stops verifying, and an emergency
rotation (`gatepass keys rotate --revoke-old`) retires the old key everywhere within one max-age.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import PASSWORD
from gatepass.core.access_token import ACCESS_TOKEN_TYP, build_claims
from gatepass.core.jose import b64url_decode
from gatepass.core.keys import SigningKey, load_private, sign_compact
from gatepass.core.sealing import unseal
from gatepass.sdk import Verifier
from gatepass.sdk.errors import UnknownKeyError
from gatepass.sdk.jwks import JWKSClient, freshness, keys_from_jwks
from servers import SECRET, Server, cli, create_user, wait_until


def _kid(token: str) -> str:
    import json

    return str(json.loads(b64url_decode(token.split(".")[0]))["kid"])


def _login(url: str, username: str) -> str:
    r = httpx.post(
        url + "/oauth/token",
        data={"grant_type": "password", "username": username, "password": PASSWORD},
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


def _profile(url: str, token: str) -> int:
    return httpx.get(url + "/api/profile", headers={"Authorization": f"Bearer {token}"}).status_code


def _forge_admin_token(data_dir: Path, kid: str, issuer: str) -> str:
    """What the holder of a stolen signing key does: sign a fresh admin token with it."""
    with sqlite3.connect(data_dir / "gatepass.db") as db:
        alg, sealed = db.execute(
            "SELECT alg, sealed_private FROM signing_keys WHERE kid = ?", (kid,)
        ).fetchone()
    private = load_private(unseal(SECRET.encode(), kid, sealed))
    key = SigningKey(kid, alg, "active", 0.0, 0.0, None, private)
    claims = build_claims(
        issuer=issuer, subject="attacker", audience="gatepass", client_id="gatepass",
        scope=["profile"], roles=["admin"], now=time.time(), ttl=900, sid=None,
    )  # fmt: skip
    return sign_compact(key, {"alg": alg, "typ": ACCESS_TOKEN_TYP, "kid": kid}, claims)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path / "data", JWKS_MAX_AGE="1", KEY_REFRESH_INTERVAL="1")
    s.start()
    try:
        create_user(s.env, "alice", PASSWORD, "admin")
        yield s
    finally:
        s.stop()


def test_sdk_refuses_a_key_retired_by_an_emergency_rotation_within_one_max_age(
    server: Server, tmp_path: Path
) -> None:
    verifier = Verifier.from_issuer(server.url, audience="gatepass")
    issued = _login(server.url, "alice")  # signed by the key about to be compromised
    old_kid = _kid(issued)
    forged = _forge_admin_token(tmp_path / "data", old_kid, server.url)
    assert "admin" in verifier.verify(issued).roles  # cached from now on
    assert "admin" in verifier.verify(forged).roles

    cli(server.env, "keys", "rotate", "--revoke-old")
    assert wait_until(lambda: _profile(server.url, issued) == 401, timeout=20)  # gatepass
    jwks = httpx.get(server.url + "/.well-known/jwks.json").json()
    assert old_kid not in {k["kid"] for k in jwks["keys"]}

    def sdk_refuses(token: str) -> bool:
        try:
            verifier.verify(token)
            return False
        except UnknownKeyError:
            return True

    # one JWKS max-age (1 s here) after gatepass stopped publishing it: no waiting for a
    # second rotation, nor for the old key's tokens to expire
    assert wait_until(lambda: sdk_refuses(issued), timeout=20)
    assert sdk_refuses(forged)
    fresh = _login(server.url, "alice")
    assert _kid(fresh) != old_kid and verifier.verify(fresh).sub


def test_an_ordinary_rotation_keeps_the_old_key_verifying_after_a_refresh(server: Server) -> None:
    verifier = Verifier.from_issuer(server.url, audience="gatepass")
    issued = _login(server.url, "alice")
    first = verifier._keys
    cli(server.env, "keys", "rotate")

    def refreshed() -> bool:
        verifier.verify(issued)  # a verification starts the refresh once max-age has run out
        # three access-token keys (next, active, retiring) and three ID-token keys
        return verifier._keys is not first and len(verifier._keys) == 6

    assert wait_until(refreshed, timeout=20, interval=0.1)
    assert _kid(issued) in verifier._keys  # retiring, still published: still accepted
    assert verifier.verify(issued).sub


def test_emergency_rotation_with_url_keys_is_refused(server: Server) -> None:
    with pytest.raises(RuntimeError, match="--revoke-old"):
        cli(server.env, "keys", "rotate", "--urls", "--revoke-old")


class _Silent:
    """A listener that accepts connections and never answers: a JWKS fetch to it hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/jwks.json"

    def close(self) -> None:
        self.sock.close()


def test_jwks_refresh_runs_in_the_background_never_in_a_verification(server: Server) -> None:
    jwks = httpx.get(server.url + "/.well-known/jwks.json").json()
    token = _login(server.url, "alice")
    now = [time.time()]
    silent = _Silent()
    try:
        verifier = Verifier(
            issuer=server.url,
            audience="gatepass",
            keys=keys_from_jwks(jwks),
            jwks=JWKSClient(silent.url, timeout=30),
            clock=lambda: now[0],
        )
        assert verifier.verify(token).sub
        now[0] += 400  # the key set's max-age (300 s by default) has run out
        assert verifier.verify(token).sub  # answered while the refetch hangs
        refreshing = [t for t in threading.enumerate() if t.name == "gatepass-jwks"]
        assert refreshing and refreshing[0].is_alive()
        assert verifier.verify(token).sub  # and only one refetch is under way
        assert len([t for t in threading.enumerate() if t.name == "gatepass-jwks"]) == 1
    finally:
        silent.close()


def test_freshness_reads_max_age_less_age() -> None:
    assert freshness({"cache-control": "public, max-age=300"}) == 300
    assert freshness({"cache-control": "max-age=300", "age": "100"}) == 200
    assert freshness({"cache-control": "max-age=300", "age": "900"}) == 0
    assert freshness({"cache-control": "no-store"}) == 0
    assert freshness({"cache-control": "max-age=abc"}) == 0
    assert freshness({"cache-control": "max-age=\u00b2"}) == 0
    assert freshness({"cache-control": "max-age=99999999"}) == 86400
    assert freshness({}) == 300
