"""core/user_agent.py: browser and OS families from real User-Agent strings."""

from __future__ import annotations

import pytest

from gatepass.core import cursor
from gatepass.core.user_agent import Device, parse

REAL = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        ("Chrome", "Windows"),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
        ("Edge", "Windows"),
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.2 Safari/605.1.15",
        ("Safari", "macOS"),
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0",
        ("Firefox", "macOS"),
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
        ("Firefox", "Linux"),
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chromium/119.0.6045.199 Chrome/119.0.6045.199 Safari/537.36",
        ("Chromium", "Linux"),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
        ("Safari", "iOS"),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
        ("Chrome", "iOS"),
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) FxiOS/121.0 Mobile/15E148 Safari/605.1.15",
        ("Firefox", "iOS"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36",
        ("Chrome", "Android"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36 OPR/79.0.4195.76543",
        ("Opera", "Android"),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
        ("Opera", "Windows"),
    ),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        ("Chrome", "ChromeOS"),
    ),
    (
        "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
        ("Firefox", "Android"),
    ),
    ("curl/8.5.0", ("unknown", "unknown")),
    ("python-httpx/0.27.0", ("unknown", "unknown")),
    ("", ("unknown", "unknown")),
    (None, ("unknown", "unknown")),
    ("<script>alert(1)</script>", ("unknown", "unknown")),
]


@pytest.mark.parametrize(("ua", "expected"), REAL)
def test_browser_and_os_of_real_user_agents(ua: str | None, expected: tuple[str, str]) -> None:
    assert parse(ua) == Device(*expected)


def test_a_very_long_user_agent_is_read_only_so_far() -> None:
    assert parse("x" * 100_000 + " Firefox/121.0") == Device("unknown", "unknown")


def test_cursor_round_trip() -> None:
    text = cursor.encode("Ünïcode name", "id-1")
    assert text.isascii() and "=" not in text
    assert cursor.decode(text, (str, str)) == ("Ünïcode name", "id-1")
    assert cursor.decode(cursor.encode(42), (int,)) == (42,)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "!!!",
        "x" * 600,
        "é",
        cursor.encode("a"),  # wrong arity
        cursor.encode(1, "a"),  # wrong types
        cursor.encode(True),  # a bool is not an int here
        cursor.encode("a\x00b", "c"),
        cursor.encode("a\nb", "c"),
        "bnVsbA",  # null
        "e30",  # {}
    ],
)
def test_bad_cursors_are_value_errors(bad: str) -> None:
    shape: tuple[type, ...] = (int,) if bad == cursor.encode(True) else (str, str)
    with pytest.raises(ValueError):
        cursor.decode(bad, shape)
