"""What the consent page says for each scope (unknown scopes are shown by their name)."""

from __future__ import annotations

from collections.abc import Iterable

WORDS = {
    "openid": "Confirm your identity",
    "profile": "See your name and username",
    "email": "See your email address",
    "offline_access": "Stay signed in, and reach your account while you are away",
    "gatepass:admin": "Administer this server: users, sessions, keys and clients",
}


def describe(scopes: Iterable[str]) -> list[tuple[str, str]]:
    """(scope, words) pairs: the known scopes in the table's order, then the others by name."""
    chosen = set(scopes)
    known = [(s, w) for s, w in WORDS.items() if s in chosen]
    other = [(s, f"Use “{s}”") for s in sorted(chosen - WORDS.keys())]
    return known + other
