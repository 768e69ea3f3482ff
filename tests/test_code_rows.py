"""The code flow's statements on the driver directly (storage/code_rows/), on SQLite and
PostgreSQL: the same rows as SQLAlchemy reads and writes, one redemption among concurrent
ones, nothing changed when the code is used or expired or its SSO session has ended, and on
PostgreSQL a logout that revokes the SSO session during a redemption seen by it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select, update

from gatepass.oauth.services import Services, open_services
from gatepass.settings import Settings
from gatepass.storage.code_rows import (
    LOGIN_COLUMNS,
    USER_COLUMNS,
    CodeRow,
    Redeemed,
    Redemption,
)
from gatepass.storage.logins import NewLogin
from gatepass.storage.models import AuthorizationCode, LoginSession, RefreshToken, User

NOW = 1000.0
COOKIE = "c" * 64


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


async def setup(svc: Services, *, disabled: bool = False) -> tuple[str, str]:
    """A user with an SSO session (cookie digest :data:`COOKIE`): their ids."""
    user = await svc.users.create("ann", "h", ["admin", "ops"], 0)
    async with svc.sessions.begin() as s:
        if disabled:
            await s.execute(update(User).where(User.id == user.id).values(disabled=True))
        await s.execute(
            update(User).where(User.id == user.id).values(email="ann@example.com", name="Ann")
        )
        s.add(
            LoginSession(
                id="gpo-sso",
                user_id=user.id,
                client_id="gatepass",
                scope="",
                created_at=NOW - 100,
                last_used_at=NOW - 50,
                expires_at=NOW + 1000,
                idle_expires_at=NOW + 500,
                user_agent="ua",
                ip="10.0.0.1",
                kind="sso",
                cookie_digest=COOKIE,
                auth_time=NOW - 100,
                amr="pwd",
            )
        )
    return user.id, "gpo-sso"


def code(digest: str, user_id: str, **over: Any) -> CodeRow:
    values: dict[str, Any] = {
        "digest": digest,
        "client_id": "rp",
        "user_id": user_id,
        "sso_sid": "gpo-sso",
        "redirect_uri": "https://app.example/cb",
        "code_challenge": "x" * 43,
        "nonce": None,
        "scope": "openid profile",
        "auth_time": NOW - 100,
        "amr": "pwd",
        "created_at": NOW,
        "expires_at": NOW + 60,
    }
    values.update(over)
    return CodeRow(**values)


def login(sid: str, user_id: str, refresh: str | None = "r" * 64) -> NewLogin:
    return NewLogin(
        sid=sid,
        user_id=user_id,
        client_id="rp",
        scope="openid profile",
        refresh_digest=refresh,
        now=NOW + 1,
        absolute_ttl=86400,
        idle_ttl=3600,
        user_agent="agent " * 200,  # cut to 512 characters, as Logins.start does
        ip="10.0.0.2",
        jkt="k" * 43,
        parent_sid="gpo-sso",
        auth_time=NOW - 100,
        amr="pwd",
    )


def columns(row: Any, names: Any) -> dict[str, Any]:
    return {n: getattr(row, n) for n in names}


def test_the_column_lists_are_the_models_but_the_password_hash() -> None:
    assert LOGIN_COLUMNS == tuple(c.name for c in LoginSession.__table__.columns)
    every = tuple(c.name for c in User.__table__.columns)
    assert USER_COLUMNS == tuple(c for c in every if c != "password_hash")


def test_the_sso_session_reads_as_sqlalchemy_reads_it(make_settings, database_url) -> None:
    async def body(svc: Services) -> None:
        uid, sid = await setup(svc)
        found = await svc.sso.by_cookie(COOKIE, NOW)
        assert found is not None
        session, user = found
        async with svc.sessions() as s:
            slow_session = await s.get(LoginSession, sid)
            slow_user = await s.get(User, uid)
        assert columns(session, LOGIN_COLUMNS) == columns(slow_session, LOGIN_COLUMNS)
        assert columns(user, USER_COLUMNS) == columns(slow_user, USER_COLUMNS)
        assert user.roles == ["admin", "ops"] and user.disabled is False
        assert user.email_verified is False and user.email == "ann@example.com"
        assert user.password_hash is None  # never read
        assert await svc.sso.by_cookie("d" * 64, NOW) is None
        assert await svc.sso.by_cookie(COOKIE, NOW + 500) is None  # idle too long
        async with svc.sessions.begin() as s:
            await s.execute(update(LoginSession).values(revoked_at=NOW))
        assert await svc.sso.by_cookie(COOKIE, NOW) is None

    run(make_settings, database_url, body)


def test_no_sso_session_for_a_disabled_user(make_settings, database_url) -> None:
    async def body(svc: Services) -> None:
        await setup(svc, disabled=True)
        assert await svc.sso.by_cookie(COOKIE, NOW) is None

    run(make_settings, database_url, body)


def test_a_code_reads_back_with_its_user_and_sso_session(make_settings, database_url) -> None:
    async def body(svc: Services) -> None:
        uid, _ = await setup(svc)
        await svc.codes.add(code("a" * 64, uid, nonce="n-1"))
        found = await svc.codes.lookup("a" * 64)
        assert found is not None
        async with svc.sessions() as s:
            slow = await s.get(AuthorizationCode, "a" * 64)
        cols = [c.key for c in AuthorizationCode.__table__.columns]
        assert columns(found.code, cols) == columns(slow, cols)
        assert found.user is not None and found.user.id == uid
        assert found.user.roles == ["admin", "ops"] and found.user.disabled is False
        assert found.sso_live(NOW) and not found.sso_live(NOW + 1000)
        assert await svc.codes.lookup("b" * 64) is None
        async with svc.sessions.begin() as s:
            await s.execute(update(LoginSession).values(revoked_at=NOW))
        found = await svc.codes.lookup("a" * 64)
        assert found is not None and not found.sso_live(NOW)

    run(make_settings, database_url, body)


def test_codes_stored_together_all_land_and_a_duplicate_fails_alone(
    make_settings, database_url
) -> None:
    async def body(svc: Services) -> None:
        uid, _ = await setup(svc)
        await svc.codes.add(code("a" * 64, uid))
        rows = [code(f"{i:064d}", uid) for i in range(10)]
        rows[3] = code("a" * 64, uid, nonce="other")
        got = await asyncio.gather(*(svc.codes.add(r) for r in rows), return_exceptions=True)
        assert [i for i, g in enumerate(got) if isinstance(g, Exception)] == [3]
        for i, r in enumerate(rows):
            if i != 3:
                assert await svc.codes.lookup(r.digest) is not None

    run(make_settings, database_url, body)


@pytest.mark.parametrize("refresh", ["r" * 64, None])
def test_a_redemption_writes_what_logins_start_writes(
    make_settings, database_url, refresh: str | None
) -> None:
    """The login a redemption starts is the row Logins.start would write for it, with its
    first refresh token when it has one; the code is used and names it."""

    async def body(svc: Services) -> None:
        uid, sid = await setup(svc)
        await svc.codes.add(code("a" * 64, uid))
        step = Redemption("a" * 64, sid, NOW + 1, login("gps-fast", uid, refresh))
        assert await svc.codes.redeem_starting(step) is Redeemed.REDEEMED
        slow_refresh = None if refresh is None else "s" * 64
        await svc.logins.start(login("gps-slow", uid, slow_refresh))
        async with svc.sessions() as s:
            fast = await s.get(LoginSession, "gps-fast")
            slow = await s.get(LoginSession, "gps-slow")
            used = await s.get(AuthorizationCode, "a" * 64)
            tokens = (await s.execute(select(RefreshToken))).scalars().all()
        assert fast is not None and slow is not None and used is not None
        assert columns(fast, LOGIN_COLUMNS) == {**columns(slow, LOGIN_COLUMNS), "id": "gps-fast"}
        assert used.used_at == NOW + 1 and used.login_sid == "gps-fast"
        by_sid = {t.sid: t for t in tokens}
        if refresh is None:
            assert by_sid == {}
        else:
            cols = [c.key for c in RefreshToken.__table__.columns]
            assert columns(by_sid["gps-fast"], cols) == {
                **columns(by_sid["gps-slow"], cols),
                "digest": refresh,
                "sid": "gps-fast",
            }

    run(make_settings, database_url, body)


def test_concurrent_redemptions_have_one_winner(make_settings, database_url) -> None:
    async def body(svc: Services) -> None:
        uid, sid = await setup(svc)
        await svc.codes.add(code("a" * 64, uid))
        steps = [
            Redemption("a" * 64, sid, NOW + 1, login(f"gps-{i}", uid, f"{i:064d}"))
            for i in range(16)
        ]
        outcomes = await asyncio.gather(*(svc.codes.redeem_starting(s) for s in steps))
        assert outcomes.count(Redeemed.REDEEMED) == 1
        assert outcomes.count(Redeemed.LOST) == 15
        winner = f"gps-{outcomes.index(Redeemed.REDEEMED)}"
        async with svc.sessions() as s:
            logins = (
                await s.execute(select(LoginSession.id).where(LoginSession.kind == "refresh"))
            ).all()
            tokens = (await s.execute(select(RefreshToken.sid))).all()
            used = await s.get(AuthorizationCode, "a" * 64)
        assert [r[0] for r in logins] == [winner] and [r[0] for r in tokens] == [winner]
        assert used is not None and used.login_sid == winner

    run(make_settings, database_url, body)


def test_nothing_changes_for_a_used_or_expired_code_or_an_ended_session(
    make_settings, database_url
) -> None:
    async def body(svc: Services) -> None:
        uid, sid = await setup(svc)
        await svc.codes.add(code("a" * 64, uid))

        def redeem(now: float, name: str) -> Awaitable[Redeemed]:
            return svc.codes.redeem_starting(Redemption("a" * 64, sid, now, login(name, uid)))

        async def state() -> tuple[Any, Any, int]:
            async with svc.sessions() as s:
                row = await s.get(AuthorizationCode, "a" * 64)
                n = len((await s.execute(select(RefreshToken))).all())
            assert row is not None
            return row.used_at, row.login_sid, n

        assert await redeem(NOW + 60, "gps-late") is Redeemed.LOST  # expired
        assert await state() == (None, None, 0)
        async with svc.sessions.begin() as s:
            await s.execute(update(LoginSession).values(revoked_at=NOW))
        assert await redeem(NOW + 1, "gps-out") is Redeemed.SSO_ENDED
        assert await state() == (None, None, 0)
        async with svc.sessions.begin() as s:
            await s.execute(update(LoginSession).values(revoked_at=None))
        assert await redeem(NOW + 1, "gps-one") is Redeemed.REDEEMED
        assert await redeem(NOW + 2, "gps-two") is Redeemed.LOST  # used
        assert await state() == (NOW + 1, "gps-one", 1)

    run(make_settings, database_url, body)


def test_postgresql_a_logout_during_a_redemption_is_seen_by_it(make_settings, pg_url) -> None:
    """A logout holds the SSO session's row, revoked but not yet committed: the redemption
    waits for it, then sees the session ended and starts nothing (were it to start its login,
    the logout, which has already listed the session's logins, would miss it)."""

    async def body(svc: Services) -> None:
        uid, sid = await setup(svc)
        await svc.codes.add(code("a" * 64, uid))
        logout = await asyncpg.connect(pg_url)
        try:
            tx = logout.transaction()
            await tx.start()
            await logout.execute(
                "UPDATE login_sessions SET revoked_at = $1 WHERE id = $2", NOW, sid
            )
            step = Redemption("a" * 64, sid, NOW + 1, login("gps-1", uid))
            redemption = asyncio.ensure_future(svc.codes.redeem_starting(step))
            while not redemption.done() and not await logout.fetchval(
                "SELECT count(*) FROM pg_stat_activity"  # the redemption waits for the row
                " WHERE wait_event_type = 'Lock' AND query LIKE '%FOR SHARE%'"
                " AND datname = current_database()"
            ):
                await asyncio.sleep(0.01)
            assert not redemption.done()  # it did not go ahead with the session it had seen
            await tx.commit()
            assert await redemption is Redeemed.SSO_ENDED
        finally:
            await logout.close()
        found = await svc.codes.lookup("a" * 64)
        assert found is not None and found.code.used_at is None

    run(make_settings, pg_url, body)
