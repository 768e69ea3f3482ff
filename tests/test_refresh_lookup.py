"""The refresh grant reads the presented token, its login and the login's user in one round trip
(Logins.lookup_with_user); a disabled user's refresh token still gets invalid_grant."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import update

from conftest import Harness
from gatepass.oauth.services import Services, open_services
from gatepass.settings import Settings
from gatepass.storage.logins import NewLogin
from gatepass.storage.models import User


def test_lookup_with_user_matches_lookup(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    async def body(svc: Services) -> None:
        u = await svc.users.create("erin", "h", ["r"], 0)
        await svc.logins.start(
            NewLogin("sid9", u.id, "gatepass", "profile", "e" * 64, 100.0, 1000, 50, None, None)
        )
        plain = await svc.logins.lookup("e" * 64)
        joined = await svc.logins.lookup_with_user("e" * 64)
        assert plain is not None and joined is not None
        family, token, user = joined
        assert (family.id, token.digest) == (plain[0].id, plain[1].digest) == ("sid9", "e" * 64)
        assert user is not None and user.id == u.id and user.roles == ["r"]
        assert await svc.logins.lookup_with_user("f" * 64) is None

    async def main() -> None:
        svc = await open_services(make_settings(database_url=database_url))
        try:
            await body(svc)
        finally:
            await svc.close()

    asyncio.run(main())


def test_a_disabled_users_refresh_token_is_refused(gp: Harness) -> None:
    login = gp.login("bob")
    assert login.status_code == 200
    refresh = login.json()["refresh_token"]

    async def disable() -> None:
        async with gp.svc.sessions.begin() as s:
            await s.execute(update(User).where(User.username == "bob").values(disabled=True))

    gp.run(disable)
    r = gp.client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": refresh}
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
