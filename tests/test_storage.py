"""The storage layer, the same suite on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import inspect

from gatepass.core.throttle import Policy
from gatepass.errors import Conflict
from gatepass.oauth.services import Services, open_services
from gatepass.settings import Settings
from gatepass.storage import db
from gatepass.storage.logins import NewLogin
from gatepass.storage.models import Base


def run(make_settings: Callable[..., Settings], database_url: str, body) -> None:
    async def main() -> None:
        svc = await open_services(make_settings(database_url=database_url))
        try:
            await body(svc)
        finally:
            await svc.close()

    asyncio.run(main())


def test_migrations_match_models(make_settings, database_url) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    async def body(svc: Services) -> None:
        def diff(conn):
            return compare_metadata(MigrationContext.configure(conn), Base.metadata)

        async with svc.engine.connect() as conn:
            assert await conn.run_sync(diff) == []
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"users", "clients", "signing_keys", "login_sessions", "refresh_tokens"} <= tables
        assert await db.current_revision(svc.engine) is not None

    run(make_settings, database_url, body)


def test_upgrade_is_idempotent(make_settings, database_url) -> None:
    async def body(svc: Services) -> None:
        await db.upgrade(svc.engine)
        await db.upgrade(svc.engine)

    run(make_settings, database_url, body)


def test_users_roundtrip_and_unique(make_settings, database_url) -> None:
    async def body(svc: Services) -> None:
        u = await svc.users.create("carol", "$argon2id$fake", ["b", "a", "a"], 5.0)
        assert u.roles == ["a", "b"]
        again = await svc.users.by_name("carol")
        assert again is not None and again.id == u.id and again.roles == ["a", "b"]
        assert (await svc.users.by_id(u.id)).username == "carol"
        with pytest.raises(Conflict):
            await svc.users.create("carol", "x", [], 6.0)
        await svc.users.set_password_hash(u.id, "$argon2id$new")
        assert (await svc.users.by_name("carol")).password_hash == "$argon2id$new"
        assert await svc.users.by_name("nobody") is None

    run(make_settings, database_url, body)


def test_clients_store_only_secret_digest(make_settings, database_url) -> None:
    async def body(svc: Services) -> None:
        c, secret = await svc.clients.create(
            "svc", grants=["password"], scopes=["x"], public=False, token_format="jwt", now=1
        )
        assert secret and secret.startswith("gps_")
        row = await svc.clients.get(c.id)
        assert (
            row.secret_digest and secret not in row.secret_digest and len(row.secret_digest) == 64
        )
        pub, none = await svc.clients.create(
            "spa", grants=["password"], scopes=[], public=True, token_format="jwt", now=1
        )
        assert none is None and (await svc.clients.get(pub.id)).secret_digest is None
        assert {x.id for x in await svc.clients.list()} == {c.id, pub.id}

    run(make_settings, database_url, body)


def test_keys_survive_restart_and_rotation_is_persistent(make_settings, database_url) -> None:
    seen: dict[str, object] = {}

    async def first(svc: Services) -> None:
        seen["active"] = svc.keys.ring.active().kid
        seen["next"] = next(k.kid for k in svc.keys.ring.keys if k.state == "next")

    async def second(svc: Services) -> None:
        assert svc.keys.ring.active().kid == seen["active"]  # not regenerated on restart
        ring = await svc.keys.rotate()
        assert ring.active().kid == seen["next"]
        states = {r.kid: r.state for r in await svc.keys.rows()}
        assert states[seen["active"]] == "retiring"

    async def third(svc: Services) -> None:
        assert svc.keys.ring.active().kid == seen["next"]

    run(make_settings, database_url, first)
    run(make_settings, database_url, second)
    run(make_settings, database_url, third)


def test_concurrent_rotations_leave_exactly_one_active_key(make_settings, database_url) -> None:
    async def body(svc: Services) -> None:
        await asyncio.gather(
            *(svc.keys._store.rotate("ES256", now=1, retire_after=10) for _ in range(4))
        )
        rows = await svc.keys.rows()
        assert [r.state for r in rows].count("active") == 1
        assert [r.state for r in rows].count("next") == 1

    run(make_settings, database_url, body)


def test_wrong_master_secret_is_a_clear_error(make_settings, database_url) -> None:
    from gatepass.core.sealing import SealError

    run(make_settings, database_url, lambda svc: asyncio.sleep(0))

    async def main() -> None:
        await open_services(
            make_settings(
                database_url=database_url, secret_key="another-secret-0123456789abcdefXYZ"
            )
        )

    with pytest.raises(SealError, match="GATEPASS_SECRET_KEY"):
        asyncio.run(main())


def test_login_family_and_refresh_digest(make_settings, database_url) -> None:
    async def body(svc: Services) -> None:
        u = await svc.users.create("dave", "h", [], 0)
        await svc.logins.start(
            NewLogin(
                "sid1", u.id, "gatepass", "profile", "d" * 64, 100.0, 1000, 50, "ua", "1.2.3.4"
            )
        )
        fam = await svc.logins.get("sid1")
        assert fam.expires_at == 1100 and fam.idle_expires_at == 150 and fam.ip == "1.2.3.4"
        rt = await svc.logins.refresh_token("d" * 64)
        assert rt.sid == "sid1" and rt.generation == 0 and rt.used_at is None
        assert [s.id for s in await svc.logins.of_user(u.id, active_at=120)] == ["sid1"]
        assert await svc.logins.of_user(u.id, active_at=2000) == []

    run(make_settings, database_url, body)


def test_throttle_reserves_locks_and_gives_back(make_settings, database_url) -> None:
    policy = Policy(threshold=3, window=900, max_lock=60, base=10)
    wide = Policy(threshold=100, window=900, max_lock=60)

    async def body(svc: Services) -> None:
        t = svc.throttle
        for now in (1, 2, 3):
            assert (await t.reserve([("acct:x", policy)], now)).allowed
        refused = await t.reserve([("acct:x", policy), ("ip:1", wide)], 4)
        assert not refused.allowed and refused.retry_after == 10
        assert refused.lock_started == ("acct:x",)
        again = await t.reserve([("ip:1", wide), ("acct:x", policy)], 5)
        assert not again.allowed and again.retry_after == 9 and again.lock_started == ()
        # a refused attempt is counted on no key: ip:1 was never reserved
        await t.give_back(["ip:1"], clear=["acct:x"])
        assert (await t.reserve([("acct:x", policy)], 6)).allowed
        assert (await _throttle_row(svc, "ip:1")).failures == 0
        # a success gives its attempt back
        for now in (7, 8):
            assert (await t.reserve([("ip:2", policy)], now)).allowed
        await t.give_back(["ip:2"])
        row = await _throttle_row(svc, "ip:2")
        assert row is not None and row.failures == 1 and row.expires_at == 7 + 900

    run(make_settings, database_url, body)


def test_concurrent_reservations_never_pass_the_threshold(make_settings, database_url) -> None:
    """Issue 9, finding 1: however many attempts arrive at once, on however many connections and
    processes' engines, no more than the threshold are allowed through."""
    policy = Policy(threshold=5, window=900, max_lock=60)
    wide = Policy(threshold=1000, window=900, max_lock=60)

    async def body(svc: Services) -> None:
        other = await open_services(make_settings(database_url=database_url), migrate=False)
        try:
            limits = [("acct_ip:9 x", policy), ("ip:9", wide)]
            tries = [
                t.reserve(limits, 1) for t in (svc.throttle, other.throttle) for _ in range(20)
            ]
            verdicts = await asyncio.gather(*tries)
        finally:
            await other.close()
        assert sum(v.allowed for v in verdicts) == 5
        row = await _throttle_row(svc, "ip:9")
        assert row is not None and row.failures == 5  # the refused ones counted nowhere

    run(make_settings, database_url, body)


async def _throttle_row(svc: Services, key: str):
    from sqlalchemy import select

    from gatepass.storage.models import LoginThrottle

    async with svc.sessions() as s:
        q = select(LoginThrottle).where(LoginThrottle.key == key)
        return (await s.execute(q)).scalar_one_or_none()


def test_events_page(make_settings, database_url) -> None:
    async def body(svc: Services) -> None:
        for i in range(5):
            await svc.events.record("lockout" if i % 2 else "refresh_reuse", now=i, ip="1.1.1.1")
        first = await svc.events.page(limit=2)
        assert len(first) == 2
        rest = await svc.events.page(after_id=first[-1].id, limit=10)
        assert len(rest) == 3
        lockouts = await svc.events.page(type_="lockout")
        assert lockouts and all(e.type == "lockout" for e in lockouts)

    run(make_settings, database_url, body)


def test_database_errors_never_carry_parameters(make_settings, database_url) -> None:
    """A failing statement's message (which may reach a log) shows no bound values."""
    from sqlalchemy.exc import IntegrityError

    async def body(svc: Services) -> None:
        await svc.users.create("frank", "$argon2id$secret-hash-value", [], 0)
        from gatepass.storage.models import User

        with pytest.raises(IntegrityError) as err:
            async with svc.sessions.begin() as s:
                s.add(
                    User(
                        id="x1",
                        username="frank",
                        password_hash="$argon2id$other-secret-hash",
                        roles=[],
                        disabled=False,
                        created_at=0,
                    )
                )
        assert "other-secret-hash" not in str(err.value)
        assert "hidden due to hide_parameters" in str(err.value)

    run(make_settings, database_url, body)


def test_throttle_rows_from_before_0006_get_an_expiry(make_settings, database_url) -> None:
    """Migration 0006: counters written without ``expires_at`` keep a day past their last event
    (longer than any window), then the purge takes them."""
    from sqlalchemy import text

    async def main() -> None:
        settings = make_settings(database_url=database_url)
        engine = db.make_engine(settings)
        try:
            await db.upgrade(engine, "0004")
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO login_throttle (key, failures, window_start, lockouts, "
                        "locked_until) VALUES ('acct:old', 3, 1000, 1, 1300), "
                        "('ip:old', 1, 2000, 0, 0)"
                    )
                )
            await db.upgrade(engine)
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text("SELECT key, expires_at FROM login_throttle ORDER BY key")
                )
                assert [tuple(r) for r in rows] == [("acct:old", 87700.0), ("ip:old", 88400.0)]
        finally:
            await engine.dispose()

    asyncio.run(main())
