"""Users: create, find, search (keyset pages), update."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, or_, select, tuple_, update
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

    async def search(
        self, prefix: str | None, *, limit: int, after: tuple[str, str] | None = None
    ) -> builtins.list[User]:
        """Users whose username or email starts with ``prefix`` (case-insensitive), ordered by
        (username, id), from just after ``after``: a keyset page (no offset to walk)."""
        q = select(User)
        if prefix:
            pattern = _escape_like(prefix.lower()) + "%"
            q = q.where(
                or_(
                    func.lower(User.username).like(pattern, escape="\\"),
                    func.lower(User.email).like(pattern, escape="\\"),
                )
            )
        if after is not None:
            q = q.where(tuple_(User.username, User.id) > tuple_(*after))
        async with self._s() as s:
            return list(
                (await s.execute(q.order_by(User.username, User.id).limit(limit))).scalars()
            )

    async def update(self, user_id: str, **values: Any) -> User | None:
        """Set columns of one user; the user as it is now, None when there is no such user."""
        async with self._s.begin() as s:
            done = await s.execute(update(User).where(User.id == user_id).values(**values))
            if done.rowcount != 1:
                return None
        return await self.by_id(user_id)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
