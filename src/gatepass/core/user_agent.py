"""A browser and an operating system read from a User-Agent, for people to recognise their own
devices in a list of sessions. Only the common families; anything else is "unknown". Pure, no
User-Agent database.

The order of the checks matters, because browsers name their ancestors: Edge and Opera say
"Chrome" and "Safari", Chrome says "Safari", every iOS browser is WebKit and says "Safari".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNKNOWN = "unknown"

# (family, pattern): the first that matches wins
_BROWSERS = (
    ("Edge", re.compile(r"\b(?:Edg|Edge|EdgA|EdgiOS)/\d")),
    ("Opera", re.compile(r"\b(?:OPR|OPiOS|Opera)/\d|\bOpera\b")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/\d")),
    ("Chromium", re.compile(r"\bChromium/\d")),
    ("Chrome", re.compile(r"\b(?:Chrome|CriOS)/\d")),
    ("Safari", re.compile(r"\bVersion/\d[\d.]*.*\bSafari/\d|\bAppleWebKit/.*\bMobile/\w+$")),
)
_SYSTEMS = (
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("Android", re.compile(r"\bAndroid\b")),
    ("iOS", re.compile(r"\b(?:iPhone|iPad|iPod)\b|\biOS\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b|\bX11\b")),
)
MAX_READ = 512  # the stored User-Agent is at most this long (storage/logins.py)


@dataclass(frozen=True, slots=True)
class Device:
    browser: str
    os: str


def parse(user_agent: str | None) -> Device:
    """``Device("Firefox", "Linux")``, or ``"unknown"`` for a part it does not recognise."""
    text = (user_agent or "")[:MAX_READ]
    return Device(_first(_BROWSERS, text), _first(_SYSTEMS, text))


def _first(table: tuple[tuple[str, re.Pattern[str]], ...], text: str) -> str:
    for name, pattern in table:
        if pattern.search(text):
            return name
    return UNKNOWN
