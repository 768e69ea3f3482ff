"""Pieces the ``gatepass`` command groups share: time formatting and key rows for people (the
admin API shows keys the same way: ``oauth/key_listing.py``)."""

from __future__ import annotations

import time

from gatepass.oauth.key_listing import key_view

__all__ = ["fmt_time", "key_view"]


def fmt_time(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t)) if t else "-"
