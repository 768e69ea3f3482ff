"""A mail address as a person types it (``local@domain``, RFC 5321's lengths): nothing else, so
that it can never fold into another header of a message."""

from __future__ import annotations

import re

_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def is_mail_address(text: str) -> bool:
    return len(text) <= 320 and _ADDRESS.fullmatch(text) is not None
