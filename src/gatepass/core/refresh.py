"""The refresh-family state machine (RFC 6749 §6, RFC 9700 §4.14): rotate, grace, reuse, expiry.

Pure: no I/O, the time is passed in. Storage applies the decisions atomically (one conditional
``UPDATE ... WHERE used_at IS NULL``); this module only says what a presentation means.

- A refresh token that is unused, in a live family, presented by the client it was issued to,
  *rotates*: it becomes used, and its child is issued.
- A used token whose child is still unused, presented again within the grace window, is a
  *replay* of the immediate predecessor (two tabs, a retried request): the answer is the same
  child, derived again from the parent (:func:`child_token`), never an older generation.
- Any other presentation of a used token is *reuse*: the whole family is revoked.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
from dataclasses import dataclass

from gatepass.core import opaque

CHILD_KEY_PURPOSE = "gatepass refresh child v1"


class Verdict(enum.Enum):
    ROTATE = "rotate"  # unused: consume it and issue its child
    REPLAY = "replay"  # used, within grace, child unused: hand back the same child
    REUSE = "reuse"  # used otherwise: revoke the family
    INVALID = "invalid"  # unknown, expired, revoked family, wrong client: refuse, nothing else


@dataclass(frozen=True, slots=True)
class Family:
    """What the state machine needs to know of a login (a ``login_sessions`` row)."""

    sid: str
    client_id: str
    expires_at: float
    idle_expires_at: float
    revoked: bool


@dataclass(frozen=True, slots=True)
class Presented:
    """What the state machine needs to know of the presented token (a ``refresh_tokens`` row)."""

    generation: int
    used_at: float | None
    expires_at: float


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    reason: str  # for the log only


def child_token(key: bytes, parent_digest: str) -> str:
    """The child of a refresh token: ``gpr_`` + HMAC-SHA256(key, parent digest), 256 bits.

    Deterministic, so a replay within grace returns the very token the first answer carried
    without it ever being stored; unguessable without ``key`` (derived from the master secret).
    """
    mac = hmac.new(key, parent_digest.encode("ascii"), hashlib.sha256).digest()
    return opaque.REFRESH_PREFIX + base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def live(family: Family, now: float) -> str | None:
    """Why the family can no longer refresh, or None when it can."""
    if family.revoked:
        return "family revoked"
    if now >= family.expires_at:
        return "family past its absolute deadline"
    if now >= family.idle_expires_at:
        return "family past its idle deadline"
    return None


def judge(
    family: Family | None,
    token: Presented | None,
    *,
    client_id: str,
    now: float,
) -> Judgement:
    """First look at a presentation, before the atomic step: may it be tried at all?

    ``ROTATE`` here means "try the conditional update"; a used token goes to :func:`judge_used`.
    """
    if family is None or token is None:
        return Judgement(Verdict.INVALID, "unknown refresh token")
    if not hmac.compare_digest(family.client_id, client_id):
        # Client binding (RFC 6749 §6): refused, not consumed, and not a reason to revoke.
        return Judgement(Verdict.INVALID, "refresh token issued to another client")
    why = live(family, now)
    if why is not None:
        return Judgement(Verdict.INVALID, why)
    if token.used_at is None and now >= token.expires_at:
        return Judgement(Verdict.INVALID, "refresh token expired")
    if token.used_at is None:
        return Judgement(Verdict.ROTATE, "unused")
    return Judgement(Verdict.REUSE, "used")  # refined by judge_used


def judge_used(
    token: Presented,
    *,
    child_used: bool | None,
    now: float,
    grace: float,
) -> Judgement:
    """A used token was presented (or the atomic step found it used). ``child_used`` is None
    when the child does not exist (purged, or never written)."""
    if token.used_at is None:
        return Judgement(Verdict.ROTATE, "unused")
    if child_used is None:
        return Judgement(Verdict.REUSE, "used token without a child")
    if child_used:
        return Judgement(Verdict.REUSE, "older generation presented")
    if now - token.used_at > grace:
        return Judgement(Verdict.REUSE, "immediate predecessor presented after the grace window")
    return Judgement(Verdict.REPLAY, "immediate predecessor within grace")


def next_idle_deadline(family: Family, now: float, idle_ttl: int) -> float:
    """A rotation moves the idle deadline, never past the absolute one."""
    return min(family.expires_at, now + idle_ttl)


def moves_login(family: Family, idle_deadline: float, step: float) -> bool:
    """Whether a rotation to ``idle_deadline`` rewrites the login's row (see ``idle_step``), by
    the row as read before the rotation. The rotation's statement checks it again on the row it
    locks (another rotation may have moved it meanwhile; nothing moves it back), so a False here
    only spares the statement a step that would change nothing."""
    return family.idle_expires_at < idle_deadline - step


def idle_step(idle_ttl: int) -> float:
    """How far the idle deadline must move before a rotation rewrites the login's row: 1% of
    the idle lifetime, at most a minute. A busy login is then not rewritten on every refresh (on
    PostgreSQL each rewrite adds entries to all seven of the table's indexes); it can idle out
    up to this much early, never late."""
    return min(60.0, idle_ttl / 100)
