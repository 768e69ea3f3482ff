"""Users: create, find, update password hash."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from gatepass.errors import Conflict
from gatepass.storage.models import User


class Users:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._s = sessions

    async def create(
        self,
        username: str,
        password_hash: str,
        roles: Iterable[str],
        now: float,
        *,
        email: str | None = None,
        name: str | None = None,
        email_verified: bool = False,
    ) -> User:
        user = User(
            email=email,
            name=name,
            email_verified=email_verified,
            id=str(uuid.uuid4()),
            username=username,
            password_hash=password_hash,
            roles=sorted(set(roles)),
            disabled=False,
            created_at=now,
        )
        try:
            async with self._s.begin() as s:
                s.add(user)
        except IntegrityError:
            raise Conflict("a user with that name already exists") from None
        return user

    async def by_name(self, username: str) -> User | None:
        async with self._s() as s:
            return (await s.execute(select(User).where(User.username == username))).scalar()

    async def by_id(self, user_id: str) -> User | None:
        async with self._s() as s:
            return await s.get(User, user_id)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        async with self._s.begin() as s:
            await s.execute(
                update(User).where(User.id == user_id).values(password_hash=password_hash)
            )

    async def list(self, limit: int = 100, offset: int = 0) -> list[User]:
        async with self._s() as s:
            q = select(User).order_by(User.created_at, User.id).limit(limit).offset(offset)
            return list((await s.execute(q)).scalars())
