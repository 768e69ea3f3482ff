"""The denylist's entries and its in-process copy: pure, no I/O.

Three kinds of revocation (DESIGN "Revocation of JWTs"):

- ``jti``: one access token;
- ``sid``: every access token of one login (a refresh family);
- ``sub``: every token of a user issued before ``not_before`` (``iat < not_before``).

Each entry carries ``expires_at``: when the last token it covers would have expired anyway, after
which it is dropped. A verifier accepts a token until ``exp + leeway``, so entries are kept for
:data:`MAX_LEEWAY`, the largest leeway the server and the SDK accept, whatever leeway is
configured: no verifier can accept a revoked token after its entry is gone.
:class:`LocalDenylist` answers a check with at most three dictionary lookups, so a verification
never waits on a network.
"""

from __future__ import annotations

import heapq
import json
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, cast

from gatepass.core.access_token import AccessClaims

Kind = Literal["jti", "sid", "sub"]
KINDS: frozenset[str] = frozenset({"jti", "sid", "sub"})
MAX_VALUE = 200
# The largest clock-skew leeway any verifier may use (the server's setting and the SDK's Verifier
# refuse more); denylist entries last that long past the expiry of what they cover.
MAX_LEEWAY = 600


class BadEntry(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Revocation:
    kind: Kind
    value: str
    expires_at: float
    not_before: float | None = None  # ``sub`` only

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise BadEntry("bad denylist entry")
        if not isinstance(self.value, str) or not self.value or len(self.value) > MAX_VALUE:
            raise BadEntry("bad denylist entry")
        if not _is_time(self.expires_at):
            raise BadEntry("bad denylist entry")
        if self.not_before is not None and not _is_time(self.not_before):
            raise BadEntry("bad denylist entry")
        if (self.kind == "sub") != (self.not_before is not None):
            raise BadEntry("not_before belongs to sub entries only")

    def encode(self) -> str:
        return json.dumps(
            [self.kind, self.value, self.expires_at, self.not_before], separators=(",", ":")
        )

    @classmethod
    def decode(cls, raw: str | bytes) -> Revocation:
        """The entry ``raw`` encodes; :class:`BadEntry` for anything that is not exactly a JSON
        array ``[kind, value, expires_at, not_before]`` of the expected types (it comes from
        Redis, which anyone who can write there may fill)."""
        try:
            doc = json.loads(raw)
        except (ValueError, TypeError, RecursionError) as exc:
            raise BadEntry("bad denylist entry") from exc
        if not isinstance(doc, list) or len(doc) != 4:
            raise BadEntry("bad denylist entry")
        kind, value, expires_at, not_before = doc
        if not _is_time(expires_at) or (not_before is not None and not _is_time(not_before)):
            raise BadEntry("bad denylist entry")
        return cls(
            cast(Kind, kind),
            value,
            float(expires_at),
            None if not_before is None else float(not_before),
        )


def _is_time(v: object) -> bool:
    """A finite number of seconds (a bool is an int to Python, not a time)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def user_not_before(now: float) -> float:
    """The not-before of a user revocation made at ``now``.

    ``iat`` is whole seconds, so a token issued earlier in this very second has ``iat ==
    floor(now)``: the user entry does not catch it, the ``sid`` entries written with it do
    (every user token carries its login's ``sid``), and a login made just after the revocation
    in the same second is not refused.
    """
    return float(math.floor(now))


class LocalDenylist:
    """The in-process copy. Reads (:meth:`revoked`) take no lock, so any number of threads may
    check while others add and purge; writers (:meth:`add`, :meth:`purge`) are serialised, so a
    purge never drops an entry another thread is widening.

    Expiries are also kept in a heap, so a purge costs what it drops, not the size of the copy:
    a follower purges once a second, whatever it holds.
    """

    __slots__ = ("_jti", "_sid", "_sub", "_expiries", "_write")

    def __init__(self, entries: Iterable[Revocation] = ()) -> None:
        self._jti: dict[str, float] = {}
        self._sid: dict[str, float] = {}
        self._sub: dict[str, tuple[float, float]] = {}
        self._expiries: list[tuple[float, str, str]] = []  # (expires_at, kind, value)
        self._write = threading.Lock()
        for e in entries:
            self.add(e)

    def add(self, e: Revocation) -> None:
        with self._write:
            if e.kind == "sub":
                nb, exp = self._sub.get(e.value, (0.0, 0.0))
                self._sub[e.value] = (max(nb, e.not_before or 0.0), max(exp, e.expires_at))
            else:
                table = self._jti if e.kind == "jti" else self._sid
                exp = table.get(e.value, 0.0)
                table[e.value] = max(e.expires_at, exp)
            if e.expires_at > exp:  # new, or reaching further: one more expiry to watch
                heapq.heappush(self._expiries, (e.expires_at, e.kind, e.value))

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
        with self._write:
            heap = self._expiries
            while heap and heap[0][0] <= now:
                _, kind, value = heapq.heappop(heap)
                if kind == "sub":
                    entry = self._sub.get(value)
                    if entry is not None and entry[1] <= now:
                        del self._sub[value]
                        gone += 1
                else:
                    table = self._jti if kind == "jti" else self._sid
                    exp = table.get(value)
                    if exp is not None and exp <= now:  # else widened since: a later expiry
                        del table[value]
                        gone += 1
        return gone

    def entries(self) -> list[Revocation]:
        out = [Revocation("jti", k, v) for k, v in list(self._jti.items())]
        out += [Revocation("sid", k, v) for k, v in list(self._sid.items())]
        out += [Revocation("sub", k, exp, nb) for k, (nb, exp) in list(self._sub.items())]
        return out

    def __len__(self) -> int:
        return len(self._jti) + len(self._sid) + len(self._sub)
