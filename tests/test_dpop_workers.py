"""DPoP replay protection across the workers of one server (`gatepass serve --workers N`)
without Redis: the proofs already accepted are kept in the database, which every worker
shares, so a proof replayed to another worker is refused too (RFC 9449 §11.1)."""

from __future__ import annotations

import asyncio
import json
import threading

import httpx

from conftest import basic_auth
from dpop_keys import ProofKey
from gatepass.clock import FrozenClock
from gatepass.storage.dpop_replay import SqlReplayCache, purge_seen
from servers import Server, running
from test_dpop_http import TOKEN_URL, dpop_refusal, service_client

FORM = {"grant_type": "client_credentials"}


def test_two_workers_on_one_database_refuse_each_others_proofs(
    make_harness, database_url: str
) -> None:
    key = ProofKey()
    one = make_harness(database_url=database_url, workers=2)
    two = make_harness(database_url=database_url, workers=2)
    auth = service_client(one)
    proof = key.proof("POST", TOKEN_URL)
    r = one.client.post("/oauth/token", data=FORM, headers={**auth, "DPoP": proof})
    assert r.status_code == 200 and r.json()["token_type"] == "DPoP"
    r = two.client.post("/oauth/token", data=FORM, headers={**auth, "DPoP": proof})
    dpop_refusal(r, "invalid_dpop_proof", 400)
    r = one.client.post("/oauth/token", data=FORM, headers={**auth, "DPoP": proof})
    dpop_refusal(r, "invalid_dpop_proof", 400)


def test_the_database_cache_lets_a_key_through_once_until_it_expires(
    make_harness, database_url: str
) -> None:
    clock = FrozenClock()
    gp = make_harness(database_url=database_url, clock=clock)
    cache = SqlReplayCache(gp.svc.sessions, clock)

    async def race() -> list[bool]:
        return list(await asyncio.gather(*(cache.afirst_use("k" * 64, 60) for _ in range(16))))

    assert sorted(gp.run(race)) == [False] * 15 + [True]
    clock.advance(59)
    assert gp.run(cache.afirst_use, "k" * 64, 60) is False
    clock.advance(1)  # the proof could no longer pass: the key may be used again
    assert gp.run(cache.afirst_use, "k" * 64, 60) is True
    assert gp.run(purge_seen, gp.svc.sessions, clock.now()) == 0
    clock.advance(60)
    assert gp.run(purge_seen, gp.svc.sessions, clock.now()) == 1


def test_a_real_two_worker_server_accepts_a_proof_once(tmp_path) -> None:
    """Without Redis: the same proof sent at once on 24 new connections, which the kernel
    spreads over both workers; exactly one gets a token."""
    server = Server(tmp_path / "data", WORKERS="2")
    with running(server):
        created = json.loads(
            server.cli("client", "create", "svc", "--grant", "client_credentials", "--json")
        )
        auth = basic_auth(created["client_id"], created["client_secret"])
        url = server.url + "/oauth/token"
        proof = ProofKey().proof("POST", url)
        codes: list[int] = []
        gate = threading.Barrier(24)

        def one() -> None:
            with httpx.Client(timeout=30) as c:  # its own connection
                gate.wait()
                codes.append(c.post(url, data=FORM, headers={**auth, "DPoP": proof}).status_code)

        threads = [threading.Thread(target=one) for _ in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(codes) == [200] + [400] * 23
