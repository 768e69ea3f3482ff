"""Authorization codes (RFC 6749 §4.1.2), stored only as SHA-256 digests.

Issued by ``/oauth/authorize`` (``oauth/authorization_code.issue_code``); redeemed once by the
token endpoint.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.storage.models import AuthorizationCode


class Codes:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._s = sessions

    async def add(self, row: AuthorizationCode) -> None:
        async with self._s.begin() as s:
            s.add(row)
