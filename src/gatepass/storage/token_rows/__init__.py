"""The statements every token request runs, on the database driver directly.

Four statements carry the request load: storing an opaque access token, reading one back
(introspection, ``/api/profile``), reading a presented refresh token with its login and user,
and rotating it. Through an async SQLAlchemy session each cost 0.4-0.9 ms of CPU (greenlet
switches, pool check-out with a ping on PostgreSQL, five or six hops to aiosqlite's thread),
several times the statement itself, and building model instances from the rows cost more than
the statements (rows come back as the plain frozen classes below, which both backends share).
Here they run:

* on SQLite (``token_rows/sqlite.py``), on the event loop, on one ``sqlite3`` connection of
  this process: a WAL commit without fsync (``synchronous=NORMAL``) takes tens of µs, less
  than one hop to a thread. A write transaction starts with ``BEGIN IMMEDIATE`` and never waits
  inside SQLite (busy timeout 0): when another process or connection holds the write lock, it
  backs off with ``asyncio.sleep`` and tries again, so the loop never blocks on a lock. The
  loop never fsyncs either: this connection does not checkpoint; a thread checkpoints the WAL a
  few times a second instead.
* on PostgreSQL (``token_rows/postgresql.py``), on asyncpg connections of their own
  (``storage/pg_pool.py``); rotation is a single statement, which leaves the login's row out
  when the row read before shows its idle deadline needs no move (``RotationStep.move_login``).

Calls that arrive together share a round trip (``storage/coalesce.py``): opaque tokens stored
(both) or read (PostgreSQL) as one statement; rotations as one transaction (on PostgreSQL their
statements pipelined in one call, logins locked in order of id), and on PostgreSQL refresh
lookups pipelined the same way. Nothing is answered before its commit. On SQLite, security events
and their alerts are written on the same connection (``storage/events.py``). Everything else
stays on SQLAlchemy; the schema is the models' (``storage/models.py``), and the same suites run
on both.

Rotation is the atomic step of ``oauth/refresh.py``: the login must be live and the parent
unused; consuming the parent and writing the child happen together or not at all, and so does
moving the login's idle deadline when it moves by more than ``idle_step``. SQLite holds the
write lock for the statements; PostgreSQL locks the login row (``FOR UPDATE``) and consumes the
parent with a conditional ``UPDATE``, which a concurrent rotation of the same parent re-checks
after the first commits, and then skips.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class Rotation(enum.Enum):
    ROTATED = "rotated"  # this call consumed the parent and wrote the child
    LOST = "lost"  # the parent was already used (another request won, or it is reuse)
    DEAD = "dead"  # the login was revoked or expired meanwhile; nothing changed


# the opaque-token columns, in the order of the statements below and of OpaqueRow's fields
_OPAQUE_COLUMNS = (
    "digest",
    "jti",
    "client_id",
    "sub",
    "sid",
    "username",
    "scope",
    "roles",
    "audience",
    "issued_at",
    "expires_at",
    "jkt",
)
# both dialects; {p} is the parameter: "?" for sqlite3, "$1" for asyncpg
SELECT_REFRESH = """
SELECT l.id, l.user_id, l.client_id, l.scope, l.created_at, l.last_used_at, l.expires_at,
       l.idle_expires_at, l.revoked_at, l.revoked_reason, l.user_agent, l.ip, l.jkt,
       l.kind, l.cookie_digest, l.parent_sid, l.auth_time, l.amr,
       r.digest, r.sid, r.generation, r.parent_digest, r.issued_at, r.used_at, r.expires_at,
       u.id, u.username, u.roles, u.disabled, u.created_at, u.tokens_not_before
FROM refresh_tokens r
JOIN login_sessions l ON l.id = r.sid
LEFT JOIN users u ON u.id = l.user_id
WHERE r.digest = {p}
"""


@dataclass(frozen=True, slots=True)
class OpaqueRow:
    """An opaque access token's row (``models.OpaqueAccessToken``'s columns)."""

    digest: str
    jti: str
    client_id: str
    sub: str
    sid: str | None
    username: str | None
    scope: str
    roles: list[str]
    audience: str
    issued_at: float
    expires_at: float
    jkt: str | None = None  # the DPoP key it is bound to (RFC 9449 §6)


@dataclass(frozen=True, slots=True)
class LoginRow:
    """A login's row (``models.LoginSession``'s columns)."""

    id: str
    user_id: str
    client_id: str
    scope: str
    created_at: float
    last_used_at: float
    expires_at: float
    idle_expires_at: float
    revoked_at: float | None
    revoked_reason: str | None
    user_agent: str | None
    ip: str | None
    jkt: str | None  # the DPoP key its refresh tokens are bound to (RFC 9449 §5)
    kind: str = "refresh"  # "sso" rows have no refresh tokens, so never come back here
    cookie_digest: str | None = None
    # from an authorization code: the SSO session, auth_time and amr (the refresh's ID token)
    parent_sid: str | None = None
    auth_time: float | None = None
    amr: str | None = None


@dataclass(frozen=True, slots=True)
class RefreshRow:
    """A refresh token's row (``models.RefreshToken``'s columns)."""

    digest: str
    sid: str
    generation: int
    parent_digest: str | None
    issued_at: float
    used_at: float | None
    expires_at: float


@dataclass(frozen=True, slots=True)
class UserRow:
    """What the refresh grant needs of a user: never the password hash."""

    id: str
    username: str
    roles: list[str]
    disabled: bool
    created_at: float
    tokens_not_before: float | None


@dataclass(frozen=True, slots=True)
class RotationStep:
    """One rotation: consume ``parent_digest`` (of ``generation``) and write its child; move the
    login's idle deadline (and ``last_used_at``) only if that moves it by more than
    ``idle_step`` seconds (``core.refresh.idle_step``), checked on the locked row."""

    sid: str
    parent_digest: str
    child_digest: str
    generation: int
    now: float
    idle_deadline: float
    idle_step: float = 0.0
    # False: the login's row, as read before, is already within ``idle_step`` of the deadline
    # (``core.refresh.moves_login``): the statement that would move it is left out
    move_login: bool = True


# plain rows, not model instances: building three instrumented instances per refresh cost more
# than the statement (measured 60 µs of 250 µs per request)
RefreshFound = tuple[LoginRow, RefreshRow, UserRow | None]


def opaque_row(values: Sequence[Any]) -> OpaqueRow:
    row = list(values)
    row[7] = _json_list(row[7])  # roles
    return OpaqueRow(*row)


def refresh_found(values: Sequence[Any]) -> RefreshFound:
    login = LoginRow(*values[:18])
    token = RefreshRow(*values[18:25])
    uid, username, roles, disabled, created_at, not_before = values[25:]
    user = None
    if uid is not None:
        user = UserRow(uid, username, _json_list(roles), bool(disabled), created_at, not_before)
    return login, token, user


def _json_list(value: Any) -> list[str]:
    data = json.loads(value) if isinstance(value, str | bytes) else value
    return [str(v) for v in data or ()]


def opaque_values(row: OpaqueRow) -> list[Any]:
    values = [getattr(row, c) for c in _OPAQUE_COLUMNS]
    values[_OPAQUE_COLUMNS.index("roles")] = json.dumps(list(row.roles))
    return values


class TokenRows(Protocol):
    async def add_opaque(self, row: OpaqueRow) -> None: ...

    async def opaque(self, digest: str) -> OpaqueRow | None: ...

    async def refresh(self, digest: str) -> RefreshFound | None:
        """The presented refresh token's row, its login and the login's user (None if gone)."""

    async def rotate(self, step: RotationStep) -> Rotation:
        """Consume the parent and write the child, atomically (see the module docstring)."""

    async def close(self) -> None: ...
