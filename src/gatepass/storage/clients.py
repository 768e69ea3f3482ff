"""OAuth client registry. Client secrets are stored only as SHA-256 digests."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.core import opaque
from gatepass.errors import Conflict
from gatepass.storage.models import Client


class Clients:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._s = sessions

    async def create(
        self,
        name: str,
        *,
        grants: Iterable[str],
        scopes: Iterable[str],
        public: bool,
        token_format: str,
        now: float,
        audience: str | None = None,
        access_token_ttl: int | None = None,
        client_id: str | None = None,
    ) -> tuple[Client, str | None]:
        """Register a client; returns it and its secret (shown once; None for public)."""
        secret = None if public else opaque.new_token(opaque.CLIENT_SECRET_PREFIX)
        client = Client(
            id=client_id or "gpc_" + secrets.token_urlsafe(12),
            name=name,
            secret_digest=opaque.digest(secret) if secret else None,
            public=public,
            grants=sorted(set(grants)),
            scopes=sorted(set(scopes)),
            audience=audience,
            token_format=token_format,
            access_token_ttl=access_token_ttl,
            created_at=now,
        )
        try:
            async with self._s.begin() as s:
                s.add(client)
        except IntegrityError:
            raise Conflict("a client with that id already exists") from None
        return client, secret

    async def get(self, client_id: str) -> Client | None:
        async with self._s() as s:
            return await s.get(Client, client_id)

    async def delete(self, client_id: str) -> bool:
        async with self._s.begin() as s:
            result = await s.execute(delete(Client).where(Client.id == client_id))
        return bool(result.rowcount)

    async def rotate_secret(self, client_id: str) -> str | None:
        """A new secret for a confidential client (the old one stops working at once)."""
        secret = opaque.new_token(opaque.CLIENT_SECRET_PREFIX)
        async with self._s.begin() as s:
            result = await s.execute(
                update(Client)
                .where(Client.id == client_id, Client.public.is_(False))
                .values(secret_digest=opaque.digest(secret))
            )
        return secret if result.rowcount else None

    async def list(self) -> list[Client]:
        async with self._s() as s:
            return list((await s.execute(select(Client).order_by(Client.created_at))).scalars())
