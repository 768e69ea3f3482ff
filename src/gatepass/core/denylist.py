"""The denylist's entries and its in-process copy: pure, no I/O.

Three kinds of revocation (DESIGN "Revocation of JWTs"):

- ``jti``: one access token;
- ``sid``: every access token of one login (a refresh family);
- ``sub``: every token of a user issued before ``not_before`` (``iat < not_before``).

Each entry carries ``expires_at``: when the last token it covers would have expired anyway, after
which it is dropped. :class:`LocalDenylist` answers a check with at most three dictionary
lookups, so a verification never waits on a network.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, cast

from gatepass.core.access_token import AccessClaims

Kind = Literal["jti", "sid", "sub"]
KINDS: frozenset[str] = frozenset({"jti", "sid", "sub"})
MAX_VALUE = 200


class BadEntry(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Revocation:
    kind: Kind
    value: str
    expires_at: float
    not_before: float | None = None  # ``sub`` only

    def __post_init__(self) -> None:
        if self.kind not in KINDS or not self.value or len(self.value) > MAX_VALUE:
            raise BadEntry("bad denylist entry")
        if (self.kind == "sub") != (self.not_before is not None):
            raise BadEntry("not_before belongs to sub entries only")

    def encode(self) -> str:
        return json.dumps(
            [self.kind, self.value, self.expires_at, self.not_before], separators=(",", ":")
        )

    @classmethod
    def decode(cls, raw: str | bytes) -> Revocation:
        try:
            kind, value, expires_at, not_before = json.loads(raw)
        except (ValueError, TypeError) as exc:
            raise BadEntry("bad denylist entry") from exc
        if not isinstance(value, str) or not isinstance(expires_at, int | float):
            raise BadEntry("bad denylist entry")
        if not_before is not None and not isinstance(not_before, int | float):
            raise BadEntry("bad denylist entry")
        return cls(cast(Kind, kind), value, float(expires_at), not_before)


def user_not_before(now: float) -> float:
    """The not-before of a user revocation made at ``now``.

    ``iat`` is whole seconds, so a token issued earlier in this very second has ``iat ==
    floor(now)``: the user entry does not catch it, the ``sid`` entries written with it do
    (every user token carries its login's ``sid``), and a login made just after the revocation
    in the same second is not refused.
    """
    return float(math.floor(now))


class LocalDenylist:
    """The in-process copy. Safe to read from many threads while one thread adds to it."""

    __slots__ = ("_jti", "_sid", "_sub")

    def __init__(self, entries: Iterable[Revocation] = ()) -> None:
        self._jti: dict[str, float] = {}
        self._sid: dict[str, float] = {}
        self._sub: dict[str, tuple[float, float]] = {}
        for e in entries:
            self.add(e)

    def add(self, e: Revocation) -> None:
        if e.kind == "jti":
            self._jti[e.value] = max(e.expires_at, self._jti.get(e.value, 0.0))
        elif e.kind == "sid":
            self._sid[e.value] = max(e.expires_at, self._sid.get(e.value, 0.0))
        else:
            nb, exp = self._sub.get(e.value, (0.0, 0.0))
            self._sub[e.value] = (max(nb, e.not_before or 0.0), max(exp, e.expires_at))

    def covers(self, e: Revocation) -> bool:
        """Whether the copy already holds ``e`` (or an entry reaching at least as far)."""
        if e.kind == "sub":
            nb, exp = self._sub.get(e.value, (0.0, 0.0))
            return nb >= (e.not_before or 0.0) and exp >= e.expires_at
        table = self._jti if e.kind == "jti" else self._sid
        return table.get(e.value, 0.0) >= e.expires_at

    def revoked(self, claims: AccessClaims) -> bool:
        if self._jti and claims.jti in self._jti:
            return True
        if self._sid and claims.sid is not None and claims.sid in self._sid:
            return True
        if self._sub:
            entry = self._sub.get(claims.sub)
            if entry is not None and claims.iat < entry[0]:
                return True
        return False

    def purge(self, now: float) -> int:
        """Drop the entries whose tokens have all expired; how many went."""
        gone = 0
        for table in (self._jti, self._sid):
            for key in [k for k, exp in list(table.items()) if exp <= now]:
                table.pop(key, None)
                gone += 1
        for key in [k for k, (_, exp) in list(self._sub.items()) if exp <= now]:
            self._sub.pop(key, None)
            gone += 1
        return gone

    def entries(self) -> list[Revocation]:
        out = [Revocation("jti", k, v) for k, v in list(self._jti.items())]
        out += [Revocation("sid", k, v) for k, v in list(self._sid.items())]
        out += [Revocation("sub", k, exp, nb) for k, (nb, exp) in list(self._sub.items())]
        return out

    def __len__(self) -> int:
        return len(self._jti) + len(self._sid) + len(self._sub)
