"""Pieces the ``gatepass`` command groups share: time formatting and key rows for people."""

from __future__ import annotations

import time
from typing import Any


def fmt_time(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t)) if t else "-"


def key_view(row: Any, now: float) -> dict[str, Any]:
    """A key row (token- or URL-signing) as shown by ``keys list``: a retiring key whose last
    token or URL has expired is shown as retired."""
    state = row.state
    if state == "retiring" and row.retire_at is not None and row.retire_at <= now:
        state = "retired"
    return {
        "kid": row.kid,
        "state": state,
        "created_at": row.created_at,
        "activated_at": row.activated_at,
        "retire_at": row.retire_at,
    }
