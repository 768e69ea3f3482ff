"""The hot statements on the driver directly (storage/token_rows/), on SQLite and PostgreSQL:
the same rows as SQLAlchemy reads, one winner per parent under concurrent rotation, nothing
changed when the login has ended, and on SQLite a locked database waited out without blocking
the event loop, and a WAL checkpointed by the background thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from gatepass.oauth.services import Services, open_services
from gatepass.settings import ConfigError, Settings
from gatepass.storage.logins import NewLogin, Rotation
from gatepass.storage.models import LoginSession, OpaqueAccessToken, RefreshToken
from gatepass.storage.token_rows import OpaqueRow, RotationStep


def run(
    make_settings: Callable[..., Settings],
    database_url: str,
    body: Callable[[Services], Awaitable[None]],
) -> None:
    async def main() -> None:
        svc = await open_services(make_settings(database_url=database_url))
        try:
            await body(svc)
        finally:
            await svc.close()

    asyncio.run(main())


def opaque_row(digest: str, **over: Any) -> OpaqueRow:
    values: dict[str, Any] = {
        "digest": digest,
        "jti": "j-" + digest[:8],
        "client_id": "c1",
        "sub": "s1",
        "sid": None,
        "username": None,
        "scope": "a b",
        "roles": ["x", "y"],
        "audience": "api",
        "issued_at": 100,
        "expires_at": 200,
    }
    values.update(over)
    return OpaqueRow(**values)


async def start_login(svc: Services, sid: str, digest: str, *, now: float = 100.0) -> str:
    user = await svc.users.create("u-" + sid, "h", ["r"], 0)
    await svc.logins.start(
        NewLogin(sid, user.id, "gatepass", "profile", digest, now, 1000, 500, "ua", "1.2.3.4")
    )
    return user.id


def test_opaque_rows_read_back_as_sqlalchemy_reads_them(make_settings, database_url) -> None:
    async def body(svc: Services) -> None:
        await svc.token_rows.add_opaque(opaque_row("a" * 64, sid="s9", username="ann"))
        fast = await svc.token_rows.opaque("a" * 64)
        async with svc.sessions() as s:
            slow = await s.get(OpaqueAccessToken, "a" * 64)
        assert fast is not None and slow is not None
        cols = [c.key for c in OpaqueAccessToken.__table__.columns]
        assert {c: getattr(fast, c) for c in cols} == {c: getattr(slow, c) for c in cols}
        assert fast.roles == ["x", "y"] and fast.sid == "s9"
        assert await svc.token_rows.opaque("b" * 64) is None
        with pytest.raises(Exception, match="(?i)unique|duplicate"):
            await svc.token_rows.add_opaque(opaque_row("a" * 64))

    run(make_settings, database_url, body)


def test_concurrent_inserts_all_land_and_a_bad_one_fails_alone(make_settings, database_url):
    """On SQLite, inserts that arrive together share one commit; a duplicate among them must
    fail on its own, and every other token must still be stored."""

    async def body(svc: Services) -> None:
        await svc.token_rows.add_opaque(opaque_row("a" * 64))
        rows = [opaque_row(f"{i:064d}", jti=f"j{i}") for i in range(20)]
        rows[7] = opaque_row("a" * 64, jti="other")  # the digest exists already
        got = await asyncio.gather(
            *(svc.token_rows.add_opaque(r) for r in rows), return_exceptions=True
        )
        failed = [i for i, g in enumerate(got) if isinstance(g, Exception)]
        assert failed == [7]
        for i, r in enumerate(rows):
            if i != 7:
                assert await svc.token_rows.opaque(r.digest) is not None
        assert (await svc.token_rows.opaque("a" * 64)).jti == "j-aaaaaaaa"  # type: ignore[union-attr]

    run(make_settings, database_url, body)


def test_concurrent_lookups_each_get_their_own_row(make_settings, database_url) -> None:
    """Lookups that arrive together are one statement on PostgreSQL: every caller must still
    get its own row, or None for an unknown token."""

    async def body(svc: Services) -> None:
        for i in range(0, 10, 2):
            await svc.token_rows.add_opaque(opaque_row(f"{i:064d}", jti=f"j{i}"))
        await start_login(svc, "sid1", "r" * 64)
        got = await asyncio.gather(*(svc.token_rows.opaque(f"{i:064d}") for i in range(10)))
        for i, row in enumerate(got):
            assert (row.digest if row else None) == (f"{i:064d}" if i % 2 == 0 else None)
        refreshes = await asyncio.gather(
            svc.token_rows.refresh("x" * 64), svc.token_rows.refresh("r" * 64)
        )
        assert refreshes[0] is None
        assert refreshes[1] is not None and refreshes[1][1].digest == "r" * 64

    run(make_settings, database_url, body)


def test_purge_deletes_expired_opaque_tokens_only(make_settings, database_url) -> None:
    from gatepass.storage.purge import purge

    async def body(svc: Services) -> None:
        await svc.token_rows.add_opaque(opaque_row("a" * 64, expires_at=200))
        await svc.token_rows.add_opaque(opaque_row("b" * 64, jti="live", expires_at=900))
        done = await purge(svc.sessions, 500.0)
        assert done.counts["opaque_tokens"] == 1
        assert await svc.token_rows.opaque("a" * 64) is None
        assert await svc.token_rows.opaque("b" * 64) is not None

    run(make_settings, database_url, body)


def test_refresh_lookup_has_every_column_but_the_password_hash(make_settings, database_url):
    async def body(svc: Services) -> None:
        uid = await start_login(svc, "sid1", "d" * 64)
        found = await svc.token_rows.refresh("d" * 64)
        assert found is not None
        login, token, user = found
        async with svc.sessions() as s:
            slow_login = await s.get(LoginSession, "sid1")
            slow_token = await s.get(RefreshToken, "d" * 64)
        for fast, slow in ((login, slow_login), (token, slow_token)):
            cols = [c.key for c in type(slow).__table__.columns]
            assert {c: getattr(fast, c) for c in cols} == {c: getattr(slow, c) for c in cols}
        assert user is not None and user.id == uid and user.roles == ["r"]
        assert user.disabled is False and not hasattr(user, "password_hash")

    run(make_settings, database_url, body)


def rotate(svc: Services, parent: str, child: str, now: float = 110.0) -> Awaitable[Rotation]:
    return svc.token_rows.rotate(
        RotationStep(
            sid="sid1",
            parent_digest=parent,
            child_digest=child,
            generation=0,
            now=now,
            idle_deadline=now + 500,
        )
    )


def test_rotation_has_one_winner_among_concurrent_requests(make_settings, database_url):
    async def body(svc: Services) -> None:
        await start_login(svc, "sid1", "p" * 64)
        outcomes = await asyncio.gather(*(rotate(svc, "p" * 64, f"{i:064d}") for i in range(16)))
        assert outcomes.count(Rotation.ROTATED) == 1
        assert outcomes.count(Rotation.LOST) == 15
        async with svc.sessions() as s:
            rows = (await s.execute(select(RefreshToken).where(RefreshToken.sid == "sid1"))).all()
            login = await s.get(LoginSession, "sid1")
        assert len(rows) == 2  # the parent, now used, and one child
        assert login is not None and login.last_used_at == 110.0
        assert login.idle_expires_at == 610.0

    run(make_settings, database_url, body)


def test_rotations_arriving_together_each_land_and_a_bad_one_fails_alone(
    make_settings, database_url
):
    """On SQLite, rotations that arrive together share one transaction: each must come out as
    it would alone (a dead login among live ones, two presentations of one token: one wins),
    and one whose write fails (a child digest that exists) must fail on its own, consuming
    nothing, while every other lands."""

    async def body(svc: Services) -> None:
        for i in range(6):
            await start_login(svc, f"s{i}", f"{i}" * 64)
        async with svc.sessions.begin() as s:
            await s.execute(
                update(LoginSession).where(LoginSession.id == "s4").values(revoked_at=105.0)
            )

        def step(i: int, parent: str, child: str) -> Awaitable[Rotation]:
            return svc.token_rows.rotate(RotationStep(f"s{i}", parent, child, 0, 110.0, 610.0))

        got = await asyncio.gather(
            step(0, "0" * 64, "a" * 64),
            step(1, "1" * 64, "c" * 64),
            step(2, "2" * 64, "5" * 64),  # login 5's token: the insert fails
            step(3, "3" * 64, "d" * 64),
            step(4, "4" * 64, "e" * 64),  # revoked
            step(3, "3" * 64, "f" * 64),  # the same token again
            return_exceptions=True,
        )
        assert got[:2] == [Rotation.ROTATED] * 2
        assert isinstance(got[2], Exception)
        assert got[4] is Rotation.DEAD
        assert sorted([got[3], got[5]], key=str) == [Rotation.LOST, Rotation.ROTATED]
        winner = "d" if got[3] is Rotation.ROTATED else "f"
        async with svc.sessions() as s:
            used = {
                r.digest[0]: r.used_at is not None
                for r in (await s.execute(select(RefreshToken))).scalars()
            }
        assert used == {
            "0": True, "a": False, "1": True, "c": False, "2": False, "3": True, winner: False,
            "4": False, "5": False,
        }  # fmt: skip

    run(make_settings, database_url, body)


def test_a_small_move_of_the_idle_deadline_leaves_the_login_row_alone(
    make_settings, database_url
) -> None:
    """The login row is rewritten only when the idle deadline moves by more than idle_step; the
    child is written either way."""

    async def body(svc: Services) -> None:
        await start_login(svc, "sid1", "p" * 64)  # idle deadline 600

        async def step(parent: str, child: str, now: float) -> Rotation:
            return await svc.token_rows.rotate(
                RotationStep(
                    sid="sid1",
                    parent_digest=parent,
                    child_digest=child,
                    generation=0,
                    now=now,
                    idle_deadline=now + 500,
                    idle_step=60.0,
                )
            )

        async def login_row() -> tuple[float, float]:
            async with svc.sessions() as s:
                row = await s.get(LoginSession, "sid1")
                assert row is not None
                return row.last_used_at, row.idle_expires_at

        assert await step("p" * 64, "q" * 64, 130.0) is Rotation.ROTATED  # 630: +30, kept
        assert await login_row() == (100.0, 600.0)
        assert await svc.token_rows.refresh("q" * 64) is not None
        assert await step("q" * 64, "s" * 64, 170.0) is Rotation.ROTATED  # 670: +70, moved
        assert await login_row() == (170.0, 670.0)

    run(make_settings, database_url, body)


def test_a_rotation_told_the_login_stays_leaves_its_row_alone(make_settings, database_url):
    """``move_login=False`` (the row as read was already within the step): the child is written,
    the login's row is not, whatever the deadline."""

    async def body(svc: Services) -> None:
        await start_login(svc, "sid1", "p" * 64)  # idle deadline 600
        got = await svc.token_rows.rotate(
            RotationStep("sid1", "p" * 64, "q" * 64, 0, 400.0, 900.0, 60.0, move_login=False)
        )
        assert got is Rotation.ROTATED
        async with svc.sessions() as s:
            login = await s.get(LoginSession, "sid1")
            child = await s.get(RefreshToken, "q" * 64)
        assert login is not None and (login.last_used_at, login.idle_expires_at) == (100.0, 600.0)
        assert child is not None and child.generation == 1 and child.expires_at == 900.0

    run(make_settings, database_url, body)


def test_rotation_across_processes_has_one_winner(make_settings, database_url, tmp_path):
    """Two processes (separate connections and pools) rotate the same parents at once."""
    settings = make_settings(database_url=database_url)

    async def setup(svc: Services) -> None:
        await start_login(svc, "sid1", "p" * 64)

    run(make_settings, database_url, setup)
    script = tmp_path / "rotate.py"
    script.write_text(
        "import asyncio, sys\n"
        "from gatepass.settings import load_settings\n"
        "from gatepass.storage import db\n"
        "from gatepass.storage.token_rows import RotationStep\n"
        "async def main():\n"
        f"    rows = await db.open_token_rows(load_settings(**{settings_kwargs(settings)!r}))\n"
        "    try:\n"
        "        got = await asyncio.gather(*(rows.rotate(RotationStep(sid='sid1',\n"
        "            parent_digest='p' * 64, child_digest=sys.argv[1] + str(i).zfill(63),\n"
        "            generation=0, now=110.0, idle_deadline=610.0)) for i in range(8)))\n"
        "        print(' '.join(g.value for g in got))\n"
        "    finally:\n"
        "        await rows.close()\n"
        "asyncio.run(main())\n"
    )
    import subprocess
    import sys

    procs = [
        subprocess.Popen([sys.executable, str(script), tag], stdout=subprocess.PIPE, text=True)
        for tag in "ab"
    ]
    words = " ".join(p.communicate(timeout=60)[0] for p in procs).split()
    assert all(p.returncode == 0 for p in procs)
    assert words.count("rotated") == 1 and words.count("lost") == 15


def settings_kwargs(settings: Settings) -> dict[str, str]:
    return {"database_url": settings.database_url, "data_dir": str(settings.data_dir)}


def test_rotation_in_an_ended_login_changes_nothing(make_settings, database_url) -> None:
    async def body(svc: Services) -> None:
        await start_login(svc, "sid1", "p" * 64)
        async with svc.sessions.begin() as s:
            await s.execute(
                update(LoginSession).where(LoginSession.id == "sid1").values(revoked_at=105.0)
            )
        assert await rotate(svc, "p" * 64, "c" * 64) is Rotation.DEAD
        # idle deadline passed: also dead, also untouched
        async with svc.sessions.begin() as s:
            await s.execute(
                update(LoginSession).where(LoginSession.id == "sid1").values(revoked_at=None)
            )
        assert await rotate(svc, "p" * 64, "c" * 64, now=700.0) is Rotation.DEAD
        async with svc.sessions() as s:
            parent = await s.get(RefreshToken, "p" * 64)
            child = await s.get(RefreshToken, "c" * 64)
        assert parent is not None and parent.used_at is None and child is None
        assert await rotate(svc, "p" * 64, "c" * 64) is Rotation.ROTATED

    run(make_settings, database_url, body)


def test_sqlite_waits_out_a_held_write_lock_without_blocking_the_loop(make_settings) -> None:
    """Another connection (as another process would) holds the write lock for 0.3 s: the insert
    lands after it is released, and the event loop keeps running meanwhile."""
    settings = make_settings()

    async def main() -> None:
        svc = await open_services(settings)
        try:
            holder = sqlite3.connect(
                settings.sqlite_path, isolation_level=None, check_same_thread=False
            )
            holder.execute("BEGIN IMMEDIATE")
            threading.Timer(0.3, holder.commit).start()
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            tick = asyncio.create_task(ticker())
            started = time.monotonic()
            await svc.token_rows.add_opaque(opaque_row("e" * 64))
            waited = time.monotonic() - started
            tick.cancel()
            holder.close()
            assert waited >= 0.25  # it did wait for the lock...
            assert ticks >= 5  # ...and the loop ran other work meanwhile
            assert await svc.token_rows.opaque("e" * 64) is not None
        finally:
            await svc.close()

    asyncio.run(main())


def test_sqlite_wal_is_checkpointed_off_the_loop(make_settings) -> None:
    settings = make_settings()
    db_file = Path(settings.sqlite_path)

    async def main() -> None:
        svc = await open_services(settings)
        try:
            before = db_file.stat().st_size
            for i in range(400):
                await svc.token_rows.add_opaque(opaque_row(f"{i:064d}", jti=f"j{i}"))
            deadline = time.monotonic() + 10
            while db_file.stat().st_size <= before and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            # only the checkpoint thread copies WAL pages into the database file
            assert db_file.stat().st_size > before
        finally:
            await svc.close()

    asyncio.run(main())


def test_an_in_memory_sqlite_database_is_refused(make_settings) -> None:
    for url in ("sqlite:///:memory:", "sqlite://"):
        with pytest.raises(ConfigError, match="GATEPASS_DATABASE_URL"):
            make_settings(database_url=url)


def test_postgresql_a_statement_is_one_round_trip(make_settings, pg_url) -> None:
    """A connection going back to the pool is not reset (asyncpg's reset query would be a second
    round trip for every statement): the statements leave no session state behind."""
    from gatepass.storage.token_rows.postgresql import PostgresTokenRows

    async def body(svc: Services) -> None:
        rows = await PostgresTokenRows.open(pg_url, max_size=1)
        seen: list[str] = []
        try:
            async with rows.pool.acquire() as connection:  # the pool's only connection
                connection.add_query_logger(lambda record: seen.append(record.query))
            assert await rows.opaque("a" * 64) is None
            assert await rows.refresh("b" * 64) is None
            assert await rows.pool.fetchval("SHOW enable_seqscan") == "off"
        finally:
            await rows.close()
        assert len(seen) == 3, seen  # the two lookups and the SHOW: nothing else
        assert "opaque_tokens" in seen[0] and "refresh_tokens" in seen[1]

    run(make_settings, pg_url, body)


def test_postgresql_calls_arriving_together_share_one_round_trip(make_settings, pg_url) -> None:
    """Refresh lookups that arrive together, and rotations, are each one pipelined call on one
    connection (a commit for all the rotations), and every caller still gets its own answer."""
    from gatepass.storage.token_rows.postgresql import PostgresTokenRows

    async def body(svc: Services) -> None:
        for i in range(4):
            await start_login(svc, f"s{i}", f"{i}" * 64)
        rows = await PostgresTokenRows.open(pg_url, max_size=4)
        seen: list[str] = []
        try:
            async with rows.pool.acquire() as connection:  # opened now, taken first below
                connection.add_query_logger(lambda record: seen.append(record.query))
            found = await asyncio.gather(*(rows.refresh(f"{i}" * 64) for i in (3, 9, 1, 0, 2)))
            assert [f[1].digest[0] if f else None for f in found] == ["3", None, "1", "0", "2"]
            got = await asyncio.gather(
                *(
                    rows.rotate(RotationStep(f"s{i}", f"{i}" * 64, f"{c}" * 64, 0, 110.0, 610.0))
                    for i, c in ((2, "c"), (0, "a"), (3, "d"), (1, "b"), (2, "e"))
                )
            )
        finally:
            await rows.close()
        assert got[:4] == [Rotation.ROTATED] * 4 and got[4] is Rotation.LOST
        assert len(seen) == 2, seen  # one call of each statement for the five
        assert "JOIN login_sessions" in seen[0] and "INSERT INTO refresh_tokens" in seen[1]
        for i, c in ((0, "a"), (1, "b"), (2, "c"), (3, "d")):
            child = await svc.token_rows.refresh(c * 64)
            assert child is not None and child[0].id == f"s{i}" and child[1].generation == 1
        assert await svc.token_rows.refresh("e" * 64) is None

    run(make_settings, pg_url, body)


def test_postgresql_batches_of_rotations_do_not_deadlock(make_settings, pg_url) -> None:
    """A batch of rotations holds several logins' locks until its one commit. Two batches of the
    same logins arriving in opposite orders, on two connections (as two workers), must not
    deadlock: every batch locks in order of login id. Each parent is rotated once either way (a
    deadlock would be undone and the batch run again call by call), so the statements' own
    errors, as asyncpg logs them, tell."""
    from gatepass.storage.token_rows.postgresql import PostgresTokenRows

    sids = [f"s{i:02d}" for i in range(24)]
    first = {sid: sid + "-0".ljust(61, "p") for sid in sids}

    async def body(svc: Services) -> None:
        for sid in sids:
            await start_login(svc, sid, first[sid])
        one, two = [await PostgresTokenRows.open(pg_url, max_size=1) for _ in range(2)]
        errors: list[BaseException] = []
        for rows in (one, two):
            async with rows.pool.acquire() as connection:  # each pool's only connection
                connection.add_query_logger(
                    lambda record: errors.append(record.exception) if record.exception else None
                )
        parents = dict(first)
        try:
            for r in range(1, 6):
                calls = [
                    rows.rotate(
                        RotationStep(sid, parents[sid], f"{sid}-{r}{tag}".ljust(64, "c"), 0,
                                     110.0 + r, 610.0 + r)
                    )
                    for rows, order, tag in ((one, sids, "a"), (two, sids[::-1], "b"))
                    for sid in order
                ]  # fmt: skip
                got = await asyncio.gather(*calls)
                for k, sid in enumerate(sids):
                    a, b = got[k], got[2 * len(sids) - 1 - k]
                    assert sorted((a, b), key=str) == [Rotation.LOST, Rotation.ROTATED]
                    won = "a" if a is Rotation.ROTATED else "b"
                    parents[sid] = f"{sid}-{r}{won}".ljust(64, "c")
        finally:
            await one.close()
            await two.close()
        assert errors == []

    run(make_settings, pg_url, body)


def test_postgresql_moving_logins_to_a_new_sso_session_does_not_deadlock_a_batch(
    make_settings, pg_url
) -> None:
    """``SsoSessions.adopt`` updates every live login started from one SSO session, while a batch
    of rotations may hold several of them: it must lock them in order of id, as a batch does.
    The logins are written in descending id order (an UPDATE in its scan's order would take them
    in the opposite order). A transaction standing for a batch holds s05, adopt starts and waits
    for it, then the batch takes s20: it must get it (adopt has not locked past s05), with no
    deadlock, and adopt then moves all of them."""
    import asyncpg

    sids = [f"s{i:02d}" for i in range(24)][::-1]

    async def body(svc: Services) -> None:
        user = await svc.users.create("ann", "h", ["r"], 0)
        for sid in sids:
            await svc.logins.start(
                NewLogin(sid, user.id, "gatepass", "profile", sid.ljust(64, "p"), 100.0, 1000,
                         500, None, None, parent_sid="sso-old")
            )  # fmt: skip
        lock = "SELECT id FROM login_sessions WHERE id = $1 FOR UPDATE"
        batch = await asyncpg.connect(pg_url)
        watch = await asyncpg.connect(pg_url)
        try:
            async with batch.transaction():
                await batch.execute(lock, "s05")
                adopt = asyncio.create_task(svc.sso.adopt("sso-old", "sso-new"))
                for _ in range(100):  # until adopt waits for the batch's lock
                    waiting = await watch.fetchval(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                    if waiting:
                        break
                    await asyncio.sleep(0.05)
                assert waiting and not adopt.done()
                free = await watch.fetch(
                    "SELECT id FROM login_sessions WHERE parent_sid = 'sso-old'"
                    " ORDER BY id FOR UPDATE SKIP LOCKED"
                )
                assert [r["id"] for r in free] == [f"s{i:02d}" for i in range(6, 24)]
                await batch.execute(lock, "s20")  # a deadlock would be raised here or in adopt
            assert await asyncio.wait_for(adopt, 10) == len(sids)
        finally:
            await batch.close()
            await watch.close()

    run(make_settings, pg_url, body)


def test_sqlite_opening_waits_out_a_lock_held_at_that_moment(make_settings) -> None:
    """Another process holds the database for a moment (its own start, as ``serve --workers 2``
    starts two at once): opening the connection waits for it, as SQLAlchemy's do, instead of
    failing with "database is locked"; then a locked database is backed off from as before."""
    from gatepass.storage.token_rows.sqlite import SqliteTokenRows

    settings = make_settings()

    async def migrate() -> None:
        await (await open_services(settings)).close()

    asyncio.run(migrate())
    holder = sqlite3.connect(settings.sqlite_path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("COMMIT")  # the exclusive lock stays until the connection closes
    threading.Timer(0.3, holder.close).start()

    async def open_rows() -> None:
        rows = SqliteTokenRows(settings.sqlite_path)
        try:
            await rows.add_opaque(opaque_row("f" * 64))
            assert await rows.opaque("f" * 64) is not None
        finally:
            await rows.close()

    asyncio.run(open_rows())


def test_postgresql_pool_serves_more_callers_than_connections(pg_url) -> None:
    """``storage/pg_pool.py``: 40 statements at once on 3 connections all get their answer, and
    no more than 3 connections are ever open."""
    from gatepass.storage.pg_pool import PgPool

    async def main() -> None:
        pool = PgPool(pg_url, max_size=3)
        try:
            got = await asyncio.gather(*(pool.fetchval("SELECT $1::int", i) for i in range(40)))
            assert got == list(range(40))
            opened = await pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = ''"
            )
            assert 1 <= opened <= 3
        finally:
            await pool.close()

    asyncio.run(main())


def test_postgresql_pool_closes_a_connection_whose_statement_was_cut_short(pg_url) -> None:
    """A cancelled statement's connection may be mid-protocol: it is closed, never handed to the
    next caller; a statement the server refused leaves its connection in use."""
    import asyncpg

    from gatepass.storage.pg_pool import PgPool

    async def main() -> None:
        pool = PgPool(pg_url, max_size=1)
        try:
            first = await pool.fetchval("SELECT pg_backend_pid()")
            with pytest.raises(asyncpg.PostgresError):
                await pool.execute("SELECT 1/0")
            assert await pool.fetchval("SELECT pg_backend_pid()") == first  # still that one
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(pool.execute("SELECT pg_sleep(5)"), 0.2)
            assert await pool.fetchval("SELECT pg_backend_pid()") != first  # a new one
        finally:
            await pool.close()

    asyncio.run(main())


def test_postgresql_pool_waiter_cancelled_passes_its_connection_on(pg_url) -> None:
    """A caller cancelled while it waits for a connection does not take one with it."""
    from gatepass.storage.pg_pool import PgPool

    async def main() -> None:
        pool = PgPool(pg_url, max_size=1)
        try:
            busy = asyncio.ensure_future(pool.execute("SELECT pg_sleep(0.2)"))
            await asyncio.sleep(0.05)
            waiting = asyncio.ensure_future(pool.fetchval("SELECT 1"))
            await asyncio.sleep(0.01)
            waiting.cancel()
            await busy
            assert await asyncio.wait_for(pool.fetchval("SELECT 2"), 2) == 2
        finally:
            await pool.close()

    asyncio.run(main())
