"""The statements of the authorization code flow, on the database driver directly.

A silent re-authorization (``/oauth/authorize`` with a live session cookie, then the code
exchanged at the token endpoint) ran eight SQLAlchemy statements and four commits: finding the
SSO session by its cookie, storing the code; then reading the code, the user and the SSO session
apart, redeeming the code, starting the login and writing its id into the code (each its own
commit). Through async sessions those cost more CPU than everything else in the flow
(``storage/token_rows/`` says why). Here the flow runs four statements on the token rows'
connections (one ``sqlite3`` connection on the event loop, or the asyncpg connections of
``storage/pg_pool.py``):

* the SSO session and its user, by the cookie's digest (authorize);
* storing the code (authorize; codes stored at the same moment share one statement, as opaque
  access tokens do);
* the code with its user and the state of its SSO session, in one read (token);
* the redemption (token), one transaction: the SSO session must still be live, the code unused
  and unexpired; then the code is consumed and names the login it starts (``login_sid``), and
  that login (with its first refresh token, if any) is written. Of any number of concurrent
  redemptions exactly one changes anything. Since the code names its login in the commit that
  consumes it, a replay always finds the login to revoke (``storage/codes.py`` keeps the mark
  for codes consumed by an earlier version, which wrote ``login_sid`` afterwards). SQLite holds
  the write lock for the statements; PostgreSQL runs them as one statement that takes a share
  lock on the SSO session's row, so a logout revoking it either waits for the redemption (and
  then finds its login among the session's children) or is seen by it.

The schema is the models' (``storage/models.py``); the same suites run on both databases.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gatepass.storage.logins import NewLogin
from gatepass.storage.models import LoginSession, User
from gatepass.storage.token_rows import UserRow


class Redeemed(enum.Enum):
    REDEEMED = "redeemed"  # this call consumed the code and started the login
    LOST = "lost"  # the code was used (another request won, or it is a replay), or expired
    SSO_ENDED = "sso_ended"  # its SSO session was revoked or expired meanwhile; nothing changed


# the code's columns, in the order of the statements below and of CodeRow's fields
CODE_COLUMNS = (
    "digest",
    "client_id",
    "user_id",
    "sso_sid",
    "redirect_uri",
    "code_challenge",
    "nonce",
    "scope",
    "auth_time",
    "amr",
    "created_at",
    "expires_at",
    "used_at",
    "login_sid",
)
INSERTED_CODE_COLUMNS = CODE_COLUMNS[:-2]  # a new code: not used, no login
# every column of the SSO session and of its user but the password hash, in the order of
# SELECT_SSO: the hosted pages get model instances (tests/test_code_rows.py checks the lists)
LOGIN_COLUMNS = (
    "id",
    "user_id",
    "client_id",
    "scope",
    "created_at",
    "last_used_at",
    "expires_at",
    "idle_expires_at",
    "revoked_at",
    "revoked_reason",
    "user_agent",
    "ip",
    "jkt",
    "kind",
    "cookie_digest",
    "auth_time",
    "amr",
    "parent_sid",
)
USER_COLUMNS = (
    "id",
    "username",
    "roles",
    "disabled",
    "created_at",
    "tokens_not_before",
    "email",
    "name",
    "email_verified",
    "password_reset_required",
)
_JSON = ("roles",)
_BOOLEAN = ("disabled", "email_verified", "password_reset_required")

# both dialects; {p1}, {p2} are the parameters: "?1" for sqlite3, "$1" for asyncpg
SELECT_CODE = """
SELECT c.digest, c.client_id, c.user_id, c.sso_sid, c.redirect_uri, c.code_challenge, c.nonce,
       c.scope, c.auth_time, c.amr, c.created_at, c.expires_at, c.used_at, c.login_sid,
       u.id, u.username, u.roles, u.disabled, u.created_at, u.tokens_not_before,
       s.revoked_at, s.expires_at
FROM authorization_codes c
LEFT JOIN users u ON u.id = c.user_id
LEFT JOIN login_sessions s ON s.id = c.sso_sid
WHERE c.digest = {p1}
"""
SELECT_SSO = """
SELECT l.id, l.user_id, l.client_id, l.scope, l.created_at, l.last_used_at, l.expires_at,
       l.idle_expires_at, l.revoked_at, l.revoked_reason, l.user_agent, l.ip, l.jkt, l.kind,
       l.cookie_digest, l.auth_time, l.amr, l.parent_sid,
       u.id, u.username, u.roles, u.disabled, u.created_at, u.tokens_not_before, u.email,
       u.name, u.email_verified, u.password_reset_required
FROM login_sessions l JOIN users u ON u.id = l.user_id
WHERE l.cookie_digest = {p1} AND l.kind = 'sso' AND l.revoked_at IS NULL
  AND l.expires_at > {p2} AND l.idle_expires_at > {p2} AND NOT u.disabled
"""


@dataclass(frozen=True, slots=True)
class CodeRow:
    """An authorization code's row (``models.AuthorizationCode``'s columns)."""

    digest: str
    client_id: str
    user_id: str
    sso_sid: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    scope: str
    auth_time: float
    amr: str
    created_at: float
    expires_at: float
    used_at: float | None = None
    login_sid: str | None = None


@dataclass(frozen=True, slots=True)
class CodeFound:
    """A code, its user (None when gone) and its SSO session's deadlines (None when gone)."""

    code: CodeRow
    user: UserRow | None
    sso_revoked_at: float | None
    sso_expires_at: float | None

    def sso_live(self, now: float) -> bool:
        return (
            self.sso_expires_at is not None
            and self.sso_revoked_at is None
            and self.sso_expires_at > now
        )


@dataclass(frozen=True, slots=True)
class Redemption:
    """Consume the code ``digest`` at ``now`` if its SSO session ``sso_sid`` is live, and start
    ``login`` (its first refresh token when ``login.refresh_digest`` is set)."""

    digest: str
    sso_sid: str
    now: float
    login: NewLogin


def code_found(values: Sequence[Any]) -> CodeFound:
    n = len(CODE_COLUMNS)
    code = CodeRow(*values[:n])
    uid, username, roles, disabled, created_at, not_before = values[n : n + 6]
    user = None
    if uid is not None:
        user = UserRow(uid, username, _json_list(roles), bool(disabled), created_at, not_before)
    return CodeFound(code, user, values[n + 6], values[n + 7])


def sso_found(values: Sequence[Any]) -> tuple[LoginSession, User]:
    """The SSO session and its user as model instances (not attached to any ORM session): the
    hosted pages read them as they read what SQLAlchemy loads (but no password hash)."""
    n = len(LOGIN_COLUMNS)
    user = dict(zip(USER_COLUMNS, values[n:], strict=True))
    for name in _JSON:
        user[name] = _json(user[name])
    for name in _BOOLEAN:
        if user[name] is not None:
            user[name] = bool(user[name])
    return LoginSession(**dict(zip(LOGIN_COLUMNS, values[:n], strict=True))), User(**user)


def code_values(row: CodeRow) -> list[Any]:
    return [getattr(row, c) for c in INSERTED_CODE_COLUMNS]


def login_values(login: NewLogin) -> tuple[list[Any], list[Any] | None]:
    """The login's row and its first refresh token's (None without one), as ``Logins.start``
    writes them, in the order of the dialects' INSERTs: (id, user_id, client_id, scope,
    created_at, last_used_at, expires_at, idle_expires_at, user_agent, ip, jkt, kind,
    parent_sid, auth_time, amr) and (digest, sid, generation, parent_digest, issued_at,
    used_at, expires_at)."""
    now = login.now
    expires = now + login.absolute_ttl
    idle = min(expires, now + login.idle_ttl)
    row = [
        login.sid,
        login.user_id,
        login.client_id,
        login.scope,
        now,
        now,
        expires,
        idle,
        (login.user_agent or "")[:512] or None,
        login.ip,
        login.jkt,
        "refresh",
        login.parent_sid,
        login.auth_time,
        login.amr,
    ]
    if login.refresh_digest is None:
        return row, None
    return row, [login.refresh_digest, login.sid, 0, None, now, None, idle]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _json_list(value: Any) -> list[str]:
    return [str(v) for v in _json(value) or ()]


class CodeRows(Protocol):
    async def sso(self, cookie_digest: str, now: float) -> tuple[LoginSession, User] | None:
        """The live SSO session with this cookie digest and its user (not disabled)."""

    async def add_code(self, row: CodeRow) -> None:
        """Stored (committed) when this returns."""

    async def code(self, digest: str) -> CodeFound | None: ...

    async def redeem(self, step: Redemption) -> Redeemed:
        """Consume the code and start the login, atomically (see the module docstring)."""

    async def close(self) -> None:
        """Wait for the codes being stored (the connections are the token rows')."""
