"""The signing-key store's reload (``storage/keystore.py``): the server reloads its rings every
few seconds; a key it has already parsed is not unsealed and parsed again, a new one is."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from gatepass.core import keys as corekeys
from gatepass.oauth.services import open_services
from gatepass.settings import Settings


def test_a_reload_parses_only_the_keys_it_has_not_seen(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[bytes] = []
    real = corekeys.load_private

    def counting(data: bytes) -> Any:
        parsed.append(data)
        return real(data)

    async def main() -> None:
        svc = await open_services(make_settings())
        try:
            store = svc.id_keys._store
            first = await store.load()
            monkeypatch.setattr(corekeys, "load_private", counting)
            again = await store.load()
            assert parsed == []  # nothing parsed again
            assert [k.private for k in again.keys] == [k.private for k in first.keys]
            await svc.id_keys.rotate()  # a new "next" key
            rotated = await store.load()
            assert len(parsed) == 1  # the new key only
            assert {k.kid for k in rotated.keys} - {k.kid for k in first.keys}
            parsed.clear()
            await svc.id_keys.reload()
            assert parsed == []
        finally:
            await svc.close()

    asyncio.run(main())
