"""The denylist's entries and in-process copy (core/denylist.py)."""

from __future__ import annotations

import pytest

from gatepass.core.access_token import AccessClaims
from gatepass.core.denylist import BadEntry, LocalDenylist, Revocation, user_not_before


def claims(
    jti: str = "j1", sid: str | None = "s1", sub: str = "u1", iat: int = 100
) -> AccessClaims:
    return AccessClaims(
        sub=sub, iss="i", aud=("a",), exp=iat + 900, iat=iat, nbf=iat, jti=jti,
        client_id="c", scope=frozenset(), roles=frozenset(), sid=sid, raw={},
    )  # fmt: skip


def test_each_kind_covers_what_it_names() -> None:
    d = LocalDenylist()
    assert not d.revoked(claims())
    d.add(Revocation("jti", "j1", 2000))
    assert d.revoked(claims(jti="j1")) and not d.revoked(claims(jti="j2"))
    d.add(Revocation("sid", "s9", 2000))
    assert d.revoked(claims(jti="x", sid="s9")) and not d.revoked(claims(jti="x", sid=None))
    d.add(Revocation("sub", "u7", 2000, not_before=100))
    assert d.revoked(claims(jti="x", sid=None, sub="u7", iat=99))
    assert not d.revoked(claims(jti="x", sid=None, sub="u7", iat=100))


def test_entries_widen_and_expire() -> None:
    d = LocalDenylist([Revocation("sub", "u", 500, 10), Revocation("sub", "u", 400, 20)])
    assert d.entries() == [Revocation("sub", "u", 500, 20)]
    d.add(Revocation("jti", "j", 300))
    assert d.purge(300) == 1 and len(d) == 1
    assert d.purge(500) == 1 and len(d) == 0


def test_encoding_round_trip_and_refusals() -> None:
    for e in (Revocation("jti", "a", 1.5), Revocation("sub", "u", 2.0, 1.0)):
        assert Revocation.decode(e.encode()) == e
    for raw in ("", "[]", '["bad","v",1,null]', '["jti","",1,null]', '["jti","v",1,5]', "{}"):
        with pytest.raises(BadEntry):
            Revocation.decode(raw)


def test_user_not_before_spares_logins_of_the_same_second() -> None:
    assert user_not_before(100.7) == 100.0


@pytest.mark.parametrize(
    "raw",
    [
        '[["jti"],"x",9999999999,null]',  # a kind that is a list: TypeError before the fix
        '[{"k":1},"x",9999999999,null]',
        '["jti",["x"],9999999999,null]',
        '["jti","x","9999999999",null]',
        '["jti","x",true,null]',
        '["jti","x",NaN,null]',
        '["jti","x",Infinity,null]',
        '["sub","u",9999999999,[1]]',
        '["sub","u",9999999999,false]',
        '{"a":1,"b":2,"c":3,"d":4}',  # four keys would unpack like four items
        '"abcd"',  # four characters too
        '["jti","x",9999999999]',
        '["jti","x",9999999999,null,null]',
        "[" * 100_000,  # recursion
        b"\xff\xfe",
        "null",
        "1e400",
    ],
)
def test_decode_refuses_every_entry_not_of_the_exact_types(raw: str | bytes) -> None:
    with pytest.raises(BadEntry):
        Revocation.decode(raw)


def test_purge_never_drops_an_entry_widened_since_it_was_added() -> None:
    d = LocalDenylist([Revocation("jti", "j", 100), Revocation("sub", "u", 100, 5)])
    d.add(Revocation("jti", "j", 300))
    d.add(Revocation("sub", "u", 300, 5))
    assert d.purge(200) == 0 and len(d) == 2
    assert d.purge(300) == 2 and len(d) == 0
