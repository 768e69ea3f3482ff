"""An access token signed by the keys of a data directory, for the CLI tests (``token
inspect``): minted through the server's own issuance, as a login would."""

from __future__ import annotations

import asyncio


def mint_access_token(data_dir: str, *, sid: str | None = "s", jkt: str | None = None) -> str:
    from gatepass.oauth.issuance import issue_access_token
    from gatepass.oauth.services import open_services
    from gatepass.settings import load_settings

    async def mint() -> str:
        svc = await open_services(load_settings(data_dir=data_dir))
        try:
            token, _ = await issue_access_token(
                svc,
                token_format="jwt",
                subject="u1",
                client_id="c",
                scope=["profile"],
                roles=[],
                sid=sid,
                jkt=jkt,
            )
            return token
        finally:
            await svc.close()

    return asyncio.run(mint())
