"""The SDK's DPoP path (RFC 9449 §7): ``Verifier.verify_request`` and the FastAPI, Starlette and
Flask adapters, with tokens signed here; replay caches in memory and in Redis (one contract,
and a proof replayed against another service instance on the same Redis); an unreachable
Redis fails closed (503 from the adapters, ``ReplayCacheUnavailable`` from the Verifier)."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dpop_keys import ProofKey
from gatepass.core import keys as k
from gatepass.core.access_token import ACCESS_TOKEN_TYP, AccessClaims, build_claims
from gatepass.sdk import Verifier
from gatepass.sdk.dpop import Dpop, MemoryReplayCache, RedisReplayCache, ReplayCache
from gatepass.sdk.errors import (
    DpopBoundAsBearer,
    InvalidDpopProof,
    NotDpopBound,
    ReplayCacheUnavailable,
)
from servers import TcpRelay

ISSUER = "https://issuer.example"
SERVICE = "https://api.example"  # the service's public base URL (it sits behind a proxy)
URL = SERVICE + "/things"


@pytest.fixture(scope="module")
def signing() -> k.SigningKey:
    return k.SigningKey.new("ES256", state="active", now=time.time())


@pytest.fixture(scope="module")
def key() -> ProofKey:
    return ProofKey()


def make_token(signing: k.SigningKey, jkt: str | None) -> str:
    claims = build_claims(
        issuer=ISSUER,
        subject="user-1",
        audience="api",
        client_id="gpc_x",
        scope=["things:read"],
        roles=[],
        now=time.time(),
        ttl=600,
        sid=None,
        extra={"cnf": {"jkt": jkt}} if jkt else None,
    )
    return k.KeyRing((signing,)).sign(claims, ACCESS_TOKEN_TYP)


def verifier(signing: k.SigningKey, replay: ReplayCache | None = None) -> Verifier:
    return Verifier(
        issuer=ISSUER,
        audience="api",
        keys={signing.kid: signing.verification_key()},
        dpop=Dpop(replay=replay),
    )


def verify(v: Verifier, token: str, proofs: list[str], scheme: str = "DPoP") -> AccessClaims:
    return v.verify_request(f"{scheme} {token}", method="GET", url=URL, proofs=proofs)


# -- Verifier ------------------------------------------------------------------------------------


def test_verifier_accepts_a_bound_token_with_its_proof(signing, key: ProofKey) -> None:
    v = verifier(signing)
    token = make_token(signing, key.jkt)
    claims = verify(v, token, [key.proof("GET", URL, token=token)])
    assert claims.jkt == key.jkt and claims.sub == "user-1"


def test_verifier_refuses_a_bound_token_as_bearer(signing, key: ProofKey) -> None:
    token = make_token(signing, key.jkt)
    with pytest.raises(DpopBoundAsBearer):
        verify(verifier(signing), token, [], scheme="Bearer")


def test_verifier_refuses_an_unbound_token_as_dpop(signing, key: ProofKey) -> None:
    token = make_token(signing, None)
    with pytest.raises(NotDpopBound):
        verify(verifier(signing), token, [key.proof("GET", URL, token=token)])


def test_verifier_refuses_a_replayed_proof(signing, key: ProofKey) -> None:
    v = verifier(signing)
    token = make_token(signing, key.jkt)
    proof = key.proof("GET", URL, token=token)
    verify(v, token, [proof])
    with pytest.raises(InvalidDpopProof, match="already used"):
        verify(v, token, [proof])


def test_verifier_refuses_a_proof_by_another_key(signing, key: ProofKey) -> None:
    token = make_token(signing, key.jkt)
    with pytest.raises(InvalidDpopProof, match="bound to"):
        verify(verifier(signing), token, [ProofKey().proof("GET", URL, token=token)])


@pytest.mark.parametrize("cache_size", [4096, 0])
def test_a_cached_ath_belongs_to_its_own_token_only(
    signing, key: ProofKey, cache_size: int
) -> None:
    """The token cache keeps a bound token's ath (RFC 9449 §4.2) with its claims: a proof made
    for one token never passes with another token of the same key, before or after either is
    cached, sync or async."""
    v = Verifier(
        issuer=ISSUER,
        audience="api",
        keys={signing.kid: signing.verification_key()},
        cache_size=cache_size,
    )
    a, b = make_token(signing, key.jkt), make_token(signing, key.jkt)
    assert a != b
    for _ in range(2):  # the second time, with a cache, both tokens are answered from it
        verify(v, a, [key.proof("GET", URL, token=a)])
        verify(v, b, [key.proof("GET", URL, token=b)])
        with pytest.raises(InvalidDpopProof, match="ath does not match"):
            verify(v, b, [key.proof("GET", URL, token=a)])
        with pytest.raises(InvalidDpopProof, match="ath does not match"):
            asyncio.run(
                v.averify_request(
                    f"DPoP {a}", method="GET", url=URL, proofs=[key.proof("GET", URL, token=b)]
                )
            )
        with pytest.raises(InvalidDpopProof, match="no ath"):
            verify(v, a, [key.proof("GET", URL)])
    assert len(v._cache) == (2 if cache_size else 0)


def test_a_cnf_the_sdk_cannot_check_is_never_an_unbound_token(signing) -> None:
    claims = build_claims(
        issuer=ISSUER,
        subject="u",
        audience="api",
        client_id="c",
        scope=[],
        roles=[],
        now=time.time(),
        ttl=600,
        sid=None,
        extra={"cnf": {"x5t#S256": "a" * 43}},  # mTLS binding (RFC 8705): not checkable here
    )
    token = k.KeyRing((signing,)).sign(claims, ACCESS_TOKEN_TYP)
    with pytest.raises(Exception, match="cnf"):
        verify(verifier(signing), token, [], scheme="Bearer")


# -- replay caches: one contract ---------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> ReplayCache:
    if request.param == "memory":
        return MemoryReplayCache()
    url = request.getfixturevalue("redis_url")
    return RedisReplayCache(url, prefix="t" + secrets.token_hex(6))


def test_replay_cache_contract(cache: ReplayCache) -> None:
    assert cache.first_use("a", 60) is True
    assert cache.first_use("a", 60) is False
    assert cache.first_use("b", 60) is True

    async def run() -> tuple[bool, bool, bool]:
        return (
            await cache.afirst_use("a", 60),
            await cache.afirst_use("c", 60),
            await cache.afirst_use("c", 60),
        )

    assert asyncio.run(run()) == (False, True, False)


def test_replay_cache_concurrent_first_use_has_one_winner(cache: ReplayCache) -> None:
    import threading

    wins: list[bool] = []
    lock = threading.Lock()

    def attempt() -> None:
        won = cache.first_use("same", 60)
        with lock:
            wins.append(won)

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 15 + [True]


def test_a_proof_replayed_against_another_instance_on_the_same_redis_is_refused(
    signing, key: ProofKey, redis_url: str
) -> None:
    prefix = "t" + secrets.token_hex(6)
    one = verifier(signing, RedisReplayCache(redis_url, prefix=prefix))
    two = verifier(signing, RedisReplayCache(redis_url, prefix=prefix))
    token = make_token(signing, key.jkt)
    proof = key.proof("GET", URL, token=token)
    verify(one, token, [proof])
    with pytest.raises(InvalidDpopProof, match="already used"):
        verify(two, token, [proof])


def test_redis_unreachable_is_a_typed_error_never_a_pass(signing, key: ProofKey, redis_url: str):
    relay = TcpRelay("127.0.0.1", 6379).start()
    v = verifier(signing, RedisReplayCache(f"redis://127.0.0.1:{relay.port}/0", prefix="t"))
    token = make_token(signing, key.jkt)
    verify(v, token, [key.proof("GET", URL, token=token)])  # reachable: fine
    relay.cut()
    with pytest.raises(ReplayCacheUnavailable):
        verify(v, token, [key.proof("GET", URL, token=token)])


# -- the adapters ------------------------------------------------------------------------------


def _apps(v: Verifier) -> dict[str, Any]:
    from flask import Flask, g

    from gatepass.sdk.fastapi import BearerAuth
    from gatepass.sdk.flask import require_token
    from gatepass.sdk.starlette import GatepassBackend, on_auth_error

    auth = BearerAuth(v, public_url=SERVICE)
    fa = FastAPI()

    @fa.get("/things")
    async def fa_things(claims: AccessClaims = Depends(auth)) -> dict[str, str]:
        return {"sub": claims.sub}

    @requires("authenticated")
    async def st_things(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    st = Starlette(
        routes=[Route("/things", st_things)],
        middleware=[
            Middleware(
                AuthenticationMiddleware,
                backend=GatepassBackend(v, public_url=SERVICE),
                on_error=on_auth_error,
            )
        ],
    )
    fl = Flask("svc")

    @fl.get("/things")
    @require_token(v, public_url=SERVICE)
    def fl_things() -> dict[str, str]:
        return {"sub": g.gatepass_claims.sub}

    return {"fastapi": TestClient(fa), "starlette": TestClient(st), "flask": fl.test_client()}


KINDS = ["fastapi", "starlette", "flask"]


@pytest.mark.parametrize("kind", KINDS)
def test_adapters_accept_dpop_and_answer_per_rfc9449(signing, key: ProofKey, kind: str) -> None:
    client = _apps(verifier(signing))[kind]
    bound = make_token(signing, key.jkt)

    def get(scheme: str, token: str, *proofs: str) -> Any:
        headers = [("Authorization", f"{scheme} {token}"), *(("DPoP", p) for p in proofs)]
        return client.get("/things?page=2", headers=headers)

    proof = key.proof("GET", URL, token=bound)
    assert get("DPoP", bound, proof).status_code == 200
    for r, error in (
        (get("DPoP", bound, proof), "invalid_dpop_proof"),  # replayed
        (get("Bearer", bound), "invalid_token"),  # bound token as Bearer
        (get("DPoP", bound), "invalid_dpop_proof"),  # no proof
        (get("DPoP", bound, "not a jwt"), "invalid_dpop_proof"),
        (get("DPoP", bound, "x" * 9000), "invalid_dpop_proof"),
        (
            get("DPoP", bound, *(key.proof("GET", URL, token=bound) for _ in range(2))),
            "invalid_dpop_proof",
        ),
        (
            get("DPoP", bound, key.proof("GET", "http://localhost/things", token=bound)),
            "invalid_dpop_proof",
        ),
        (get("DPoP", bound, key.proof("POST", URL, token=bound)), "invalid_dpop_proof"),
        (get("DPoP", bound, key.proof("GET", URL)), "invalid_dpop_proof"),  # no ath
    ):
        assert r.status_code == 401, (error, r.status_code)
        challenge = r.headers["WWW-Authenticate"]
        assert challenge.startswith("DPoP ") and f'error="{error}"' in challenge
        assert 'algs="ES256 EdDSA RS256"' in challenge
        body = r.get_json() if kind == "flask" else r.json()
        assert body.get("detail", body)["error"] == error  # FastAPI's own handler: under detail
    unbound = make_token(signing, None)
    assert get("Bearer", unbound).status_code == 200
    r = get("DPoP", unbound, key.proof("GET", URL, token=unbound))
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("DPoP ")


@pytest.mark.parametrize("kind", KINDS)
def test_adapters_answer_503_when_the_replay_cache_is_unreachable(
    signing, key: ProofKey, kind: str, redis_url: str
) -> None:
    relay = TcpRelay("127.0.0.1", 6379).start()
    replay = RedisReplayCache(
        f"redis://127.0.0.1:{relay.port}/0", prefix="t" + secrets.token_hex(4)
    )
    client = _apps(verifier(signing, replay))[kind]
    token = make_token(signing, key.jkt)
    relay.cut()
    headers = {"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", URL, token=token)}
    r = client.get("/things", headers=headers)
    assert r.status_code == 503


def test_memory_replay_cache_forgets_after_the_ttl_and_fails_closed_when_full() -> None:
    now = [1000.0]
    cache = MemoryReplayCache(max_entries=1024, clock=lambda: now[0])
    assert cache.first_use("a", 10) is True and cache.first_use("a", 10) is False
    now[0] += 11
    assert cache.first_use("a", 10) is True  # its proof could no longer pass anyway
    for i in range(1023):
        assert cache.first_use(f"k{i}", 10)
    with pytest.raises(ReplayCacheUnavailable):  # full of live keys: refuse, never forget one
        cache.first_use("one-more", 10)
    now[0] += 11  # everything expired: purged on the next insertion
    assert cache.first_use("one-more", 10) is True and cache.first_use("k1", 10) is True


def test_introspection_answers_for_dpop_bound_tokens_carry_the_binding() -> None:
    from gatepass.sdk.errors import InvalidClaims
    from gatepass.sdk.introspect import claims_from_introspection

    body = {"active": True, "token_type": "DPoP", "sub": "u", "exp": 2**31, "aud": "api"}
    claims = claims_from_introspection({**body, "cnf": {"jkt": "a" * 43}})
    assert claims.jkt == "a" * 43  # so the adapters require its proof (RFC 9449 §6.2)
    with pytest.raises(InvalidClaims):  # a binding the SDK cannot check is never ignored
        claims_from_introspection({**body, "cnf": {"x5t#S256": "a" * 43}})
