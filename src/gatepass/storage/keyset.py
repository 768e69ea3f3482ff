"""Keyset pagination on a (moment, unique key) order: the rows after a page's last one, in
either direction, whatever was added or removed meanwhile (``core/cursor.py`` makes the
cursor)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, or_


def after(
    moment: Any, key: Any, position: tuple[float, str] | None, *, descending: bool
) -> ColumnElement[bool] | None:
    """The condition for the rows after ``position`` in the order (``moment``, ``key``),
    ascending or descending; None for the first page."""
    if position is None:
        return None
    at, last = position
    if descending:
        return or_(moment < at, and_(moment == at, key < last))
    return or_(moment > at, and_(moment == at, key > last))


def order(moment: Any, key: Any, *, descending: bool) -> tuple[Any, Any]:
    return (moment.desc(), key.desc()) if descending else (moment, key)
