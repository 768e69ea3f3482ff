"""The client registry's authentication cache: changes made through this instance apply at once,
changes made elsewhere within CACHE_TTL seconds; unknown ids are never cached."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from gatepass.clock import FrozenClock
from gatepass.errors import InvalidClient
from gatepass.oauth import client_auth
from gatepass.oauth.services import Services, open_services
from gatepass.settings import Settings
from gatepass.storage import clients as clients_module
from gatepass.storage.clients import CACHE_TTL, Clients
from gatepass.storage.models import Client

Body = Callable[[Services, Clients, Clients, FrozenClock], Awaitable[None]]


def run(make_settings: Callable[..., Settings], database_url: str, body: Body) -> None:
    """``here`` and ``elsewhere`` are two instances' registries on the same database."""

    async def main() -> None:
        svc = await open_services(make_settings(database_url=database_url))
        clock = FrozenClock()
        here = Clients(svc.sessions, clock=clock)
        elsewhere = Clients(svc.sessions, clock=clock)
        try:
            await body(svc, here, elsewhere, clock)
        finally:
            await svc.close()

    asyncio.run(main())


async def _confidential(clients: Clients) -> tuple[str, str]:
    c, secret = await clients.create(
        "svc", grants=["client_credentials"], scopes=["x"], public=False, token_format="jwt", now=1
    )
    assert secret is not None
    return c.id, secret


async def _authenticates(clients: Clients, cid: str, secret: str) -> bool:
    presented = client_auth.Presented(cid, secret, "client_secret_post")
    try:
        await client_auth.authenticate(clients, presented)
    except InvalidClient:
        return False
    return True


def test_rotation_here_applies_at_once(make_settings, database_url) -> None:
    async def body(svc: Services, here: Clients, elsewhere: Clients, clock: FrozenClock) -> None:
        cid, old = await _confidential(here)
        assert await _authenticates(here, cid, old)  # now cached
        new = await here.rotate_secret(cid)
        assert new is not None
        assert not await _authenticates(here, cid, old)
        assert await _authenticates(here, cid, new)

    run(make_settings, database_url, body)


def test_delete_here_applies_at_once(make_settings, database_url) -> None:
    async def body(svc: Services, here: Clients, elsewhere: Clients, clock: FrozenClock) -> None:
        cid, secret = await _confidential(here)
        assert await _authenticates(here, cid, secret)
        assert await here.delete(cid)
        assert await here.cached(cid) is None
        assert not await _authenticates(here, cid, secret)

    run(make_settings, database_url, body)


def test_changes_made_elsewhere_apply_within_the_ttl(make_settings, database_url) -> None:
    async def body(svc: Services, here: Clients, elsewhere: Clients, clock: FrozenClock) -> None:
        cid, old = await _confidential(here)
        assert await _authenticates(here, cid, old)
        new = await elsewhere.rotate_secret(cid)
        assert new is not None
        clock.advance(CACHE_TTL - 1)
        assert await _authenticates(here, cid, old)  # the documented window
        clock.advance(1)
        assert not await _authenticates(here, cid, old)
        assert await _authenticates(here, cid, new)

        assert await elsewhere.delete(cid)
        assert await _authenticates(here, cid, new)
        clock.advance(CACHE_TTL)
        assert not await _authenticates(here, cid, new)

    run(make_settings, database_url, body)


def test_unknown_ids_are_not_cached(make_settings, database_url) -> None:
    async def body(svc: Services, here: Clients, elsewhere: Clients, clock: FrozenClock) -> None:
        assert await here.cached("gpc_not-yet") is None
        await elsewhere.create(
            "late", grants=["password"], scopes=[], public=True, token_format="jwt", now=1,
            client_id="gpc_not-yet",
        )  # fmt: skip
        found = await here.cached("gpc_not-yet")
        assert found is not None and found.name == "late"

    run(make_settings, database_url, body)


def test_a_clock_going_backwards_does_not_extend_an_entry(make_settings, tmp_path) -> None:
    async def body(svc: Services, here: Clients, elsewhere: Clients, clock: FrozenClock) -> None:
        cid, old = await _confidential(here)
        assert await _authenticates(here, cid, old)
        await elsewhere.rotate_secret(cid)
        clock.advance(-3600)
        assert not await _authenticates(here, cid, old)

    run(make_settings, f"sqlite:///{tmp_path / 'c.db'}", body)


def test_the_cache_is_bounded(make_settings, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(clients_module, "CACHE_SIZE", 3)

    async def body(svc: Services, here: Clients, elsewhere: Clients, clock: FrozenClock) -> None:
        ids = []
        for i in range(5):
            c, _ = await here.create(
                f"c{i}", grants=["password"], scopes=[], public=True, token_format="jwt", now=1
            )
            ids.append(c.id)
            assert await here.cached(c.id) is not None
        assert len(here._cache) == 3
        assert set(here._cache) == set(ids[2:])

    run(make_settings, f"sqlite:///{tmp_path / 'c.db'}", body)


class _ReadsInFlight(Clients):
    """A registry whose database read completes, then waits until released before the request
    goes on: a request in flight across a change, as when the event loop runs another request
    between the read and its use."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.read = asyncio.Event()
        self.release = asyncio.Event()

    async def get(self, client_id: str) -> Client | None:
        row = await super().get(client_id)  # the real read, before the change commits
        self.read.set()
        await self.release.wait()
        return row


async def _straddle(
    here: _ReadsInFlight, cid: str, change: Callable[[], Awaitable[object]]
) -> None:
    """Start a cached read of ``cid``, let its database read finish, make ``change`` through
    the same registry while the read is still in flight, then let the read finish."""
    reader = asyncio.create_task(here.cached(cid))
    await here.read.wait()
    await change()
    here.release.set()
    await reader  # it may answer its own request with the row it read before the change
    here.read.clear()


def test_a_read_in_flight_does_not_recache_a_deleted_client(make_settings, database_url) -> None:
    async def body(svc: Services, _: Clients, __: Clients, clock: FrozenClock) -> None:
        here = _ReadsInFlight(svc.sessions, clock=clock)
        cid, secret = await _confidential(here)
        await _straddle(here, cid, lambda: here.delete(cid))
        assert not await _authenticates(here, cid, secret)  # at once, not CACHE_TTL later
        assert await here.cached(cid) is None

    run(make_settings, database_url, body)


def test_a_read_in_flight_does_not_recache_a_rotated_secret(make_settings, database_url) -> None:
    async def body(svc: Services, _: Clients, __: Clients, clock: FrozenClock) -> None:
        here = _ReadsInFlight(svc.sessions, clock=clock)
        cid, old = await _confidential(here)
        new: list[str | None] = []

        async def rotate() -> None:
            new.append(await here.rotate_secret(cid))

        await _straddle(here, cid, rotate)
        assert new[0] is not None
        assert not await _authenticates(here, cid, old)
        assert await _authenticates(here, cid, new[0])
        assert not here._reading and not here._generation  # nothing kept once reads are done

    run(make_settings, database_url, body)


class _CountingReads(Clients):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.reads = 0

    async def get(self, client_id: str) -> Client | None:
        self.reads += 1
        return await super().get(client_id)


def test_requests_that_miss_together_share_one_read(make_settings, database_url) -> None:
    async def body(svc: Services, _: Clients, elsewhere: Clients, clock: FrozenClock) -> None:
        here = _CountingReads(svc.sessions, clock=clock)
        cid, secret = await _confidential(elsewhere)
        found = await asyncio.gather(*(here.cached(cid) for _ in range(20)))
        assert all(c is not None and c.id == cid for c in found)
        assert here.reads == 1  # not one per request: a stampede on every expiry
        clock.advance(CACHE_TTL)  # expired: again one read for all of them
        assert all(await asyncio.gather(*(_authenticates(here, cid, secret) for _ in range(20))))
        assert here.reads == 2

    run(make_settings, database_url, body)


def test_a_record_near_its_ttl_is_read_again_in_the_background(make_settings, database_url) -> None:
    async def body(svc: Services, _: Clients, elsewhere: Clients, clock: FrozenClock) -> None:
        here = _CountingReads(svc.sessions, clock=clock)
        cid, old = await _confidential(elsewhere)
        assert await _authenticates(here, cid, old)
        new = await elsewhere.rotate_secret(cid)
        assert new is not None
        clock.advance(CACHE_TTL * clients_module.REFRESH_AHEAD)
        assert await _authenticates(here, cid, old)  # answered from the cache, within the TTL
        while cid in here._inflight:  # the background read
            await asyncio.sleep(0.01)
        assert here.reads == 2
        assert not await _authenticates(here, cid, old)  # the record read in the background
        assert await _authenticates(here, cid, new)
        assert here.reads == 2

    run(make_settings, database_url, body)


def test_a_cancelled_request_does_not_cancel_the_shared_read(make_settings, database_url) -> None:
    async def body(svc: Services, _: Clients, __: Clients, clock: FrozenClock) -> None:
        here = _ReadsInFlight(svc.sessions, clock=clock)
        cid, secret = await _confidential(here)
        first = asyncio.create_task(here.cached(cid))
        await here.read.wait()
        second = asyncio.create_task(here.cached(cid))
        await asyncio.sleep(0)
        first.cancel()  # its client went away
        here.release.set()
        found = await second
        assert found is not None and found.id == cid
        assert first.cancelled()

    run(make_settings, database_url, body)
