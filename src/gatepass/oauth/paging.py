"""Pages of the lists that can grow (a user's sessions and connected apps): keyset pagination
on a (moment, unique key) order with an opaque cursor (``core/cursor.py``,
``storage/keyset.py``), as the event lists do on the event id (``oauth/event_log.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from gatepass.core import cursor
from gatepass.errors import InvalidRequest

T = TypeVar("T")

DEFAULT_LIMIT, MAX_LIMIT = 50, 200  # a JSON list's page: ``limit`` 1-200, 50 when not given


def position(after: str | None) -> tuple[float, str] | None:
    """Where the page after ``after`` starts; ``InvalidRequest`` (400) for a bad cursor."""
    if after is None:
        return None
    try:
        return cursor.decode_at(after)
    except ValueError:
        raise InvalidRequest("The cursor is invalid.") from None


def split(
    rows: Sequence[T], limit: int, key: Callable[[T], tuple[float, str]]
) -> tuple[list[T], str | None]:
    """A page of ``limit`` from ``rows`` (read with ``limit + 1``) and the cursor of the next
    (None on the last)."""
    page = list(rows[:limit])
    return page, cursor.encode_at(*key(page[-1])) if len(rows) > limit else None
