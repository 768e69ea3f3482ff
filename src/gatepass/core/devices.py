"""Telling a sign-in from a new device, cheaply and without a User-Agent database.

A device is the User-Agent with its version numbers taken out (so a browser update is the same
device) together with the client's network: the /24 of an IPv4 address, the /48 of an IPv6 one
(so a new address from the same home or office line is the same device). Only a digest of the
two is stored. A sign-in is "from a new device" when the user has signed in before and never
from that device; the first sign-in of a user has nothing to compare with, and is not.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re

_VERSIONS = re.compile(r"[0-9][0-9._]*")


def family(user_agent: str | None) -> str:
    """The User-Agent without version numbers, spaces folded: ``Firefox/120.0`` -> ``Firefox/``."""
    text = _VERSIONS.sub("", (user_agent or "")[:512])
    return " ".join(text.split())


def network(ip: str | None) -> str:
    if not ip:
        return ""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def fingerprint(user_agent: str | None, ip: str | None) -> str:
    """64 hex characters naming the device (a digest: the table holds no User-Agent)."""
    return hashlib.sha256(f"{family(user_agent)}\n{network(ip)}".encode()).hexdigest()
