"""Brute-force protection over HTTP: 429 with Retry-After, per account and per address,
recorded as security events, and never a permanent lock."""

from __future__ import annotations

from conftest import PASSWORD, Harness
from gatepass.clock import FrozenClock


def test_account_lock_after_threshold_with_retry_after_and_event(make_harness) -> None:
    clock = FrozenClock(1_800_000_000)
    h: Harness = make_harness(clock=clock, login_account_threshold=3, login_account_max_lock=120)
    h.create_user("alice", roles=("admin",))
    h.create_user("bob")
    for _ in range(3):
        assert h.login("bob", "wrong password").status_code == 400
    r = h.login("bob")  # even the right password waits
    assert r.status_code == 429
    assert r.json()["error"] == "too_many_requests"
    assert 1 <= int(r.headers["retry-after"]) <= 31
    events = h.client.get("/admin/events?type=lockout", headers=h.bearer(_admin_token(h, clock)))
    assert events.status_code == 200
    (event,) = events.json()["events"]
    assert event["username"] == "bob" and event["details"] == {"scope": "acct_ip"}
    assert PASSWORD not in events.text
    clock.advance(31)
    assert h.login("bob").status_code == 200  # the lock ran out: not permanent


def _admin_token(h: Harness, clock: FrozenClock) -> str:
    return h.admin_token()


def test_unknown_accounts_are_throttled_like_known_ones(make_harness) -> None:
    h: Harness = make_harness(clock=FrozenClock(), login_account_threshold=2)
    for _ in range(2):
        assert h.login("ghost", "nope nope").status_code == 400
    assert h.login("ghost", "nope nope").status_code == 429


def test_lock_is_capped_by_max_lock(make_harness) -> None:
    clock = FrozenClock()
    h: Harness = make_harness(clock=clock, login_account_threshold=1, login_account_max_lock=45)
    h.create_user("bob")
    waits = []
    for _ in range(4):
        assert h.login("bob", "wrong password").status_code == 400
        r = h.login("bob", "wrong password")
        assert r.status_code == 429
        waits.append(int(r.headers["retry-after"]))
        clock.advance(int(r.headers["retry-after"]))
    assert waits[0] <= 31 and max(waits) <= 46 and waits[-1] >= 40


def test_address_throttle_spans_accounts(make_harness) -> None:
    h: Harness = make_harness(
        clock=FrozenClock(), login_ip_threshold=4, login_account_threshold=100
    )
    h.create_user("bob")
    for i in range(4):
        assert h.login(f"user{i}", "wrong password").status_code == 400
    r = h.login("bob")  # same address, another account
    assert r.status_code == 429


def test_success_resets_account_counter(make_harness) -> None:
    h: Harness = make_harness(clock=FrozenClock(), login_account_threshold=3)
    h.create_user("bob")
    for _ in range(2):
        h.login("bob", "wrong password")
    assert h.login("bob").status_code == 200
    for _ in range(2):
        h.login("bob", "wrong password")
    assert h.login("bob").status_code == 200


def test_attacker_at_another_address_cannot_lock_the_owner_out(make_harness) -> None:
    """Issue 9, finding 5: failures lock the account only from the address they come from."""
    h: Harness = make_harness(clock=FrozenClock(), login_account_threshold=3)
    h.create_user("bob")
    attacker, owner = "203.0.113.66", "198.51.100.7"
    for _ in range(3):
        assert h.login("bob", "wrong password", at=attacker).status_code == 400
    for password in ("wrong password", PASSWORD):  # the attacker stays throttled
        r = h.login("bob", password, at=attacker)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 30
    assert h.login("bob", at=owner).status_code == 200  # the owner gets in
    assert h.login("bob", "wrong password", at=attacker).status_code == 429


def test_account_ceiling_locks_guessing_spread_over_addresses(make_harness) -> None:
    h: Harness = make_harness(
        clock=FrozenClock(), login_account_threshold=3, login_account_ceiling=6
    )
    h.create_user("bob")
    for i in range(6):
        assert h.login("bob", "wrong password", at=f"203.0.113.{i // 3}").status_code == 400
    r = h.login("bob", at="198.51.100.7")  # the ceiling holds for everyone, the owner too
    assert r.status_code == 429
    events = h.run(h.svc.events.page, type_="lockout")
    assert [e.details for e in events] == [{"scope": "acct"}]


def test_ipv6_addresses_count_by_their_64(make_harness) -> None:
    h: Harness = make_harness(
        clock=FrozenClock(), login_account_threshold=100, login_ip_threshold=3
    )
    for i in range(3):
        assert h.login(f"user{i}", "wrong password", at=f"2001:db8:1:2::{i + 1}").status_code == 400
    assert h.login("user9", "wrong password", at="2001:db8:1:2:ffff::9").status_code == 429
    assert h.login("user9", "wrong password", at="2001:db8:1:3::1").status_code == 400


def test_unknown_user_and_wrong_password_do_the_same_work(make_harness) -> None:
    """The throttle's reservation comes before the user is looked up: an unknown name and a
    wrong password run the same statements and one Argon2id check each (no timed assertion:
    the same work, counted)."""
    from sqlalchemy import event

    h: Harness = make_harness(clock=FrozenClock())
    h.create_user("bob")
    statements: list[str] = []
    checks: list[bool] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    verify = h.svc.passwords.verify

    def counted(stored, password):  # type: ignore[no-untyped-def]
        checks.append(True)
        return verify(stored, password)

    h.svc.passwords.verify = counted  # type: ignore[method-assign]
    event.listen(h.svc.engine.sync_engine, "before_cursor_execute", seen)
    work = []
    for name in ("bob", "mallory"):
        statements.clear(), checks.clear()
        assert h.login(name, "wrong password", at="203.0.113.9").status_code == 400
        work.append((list(statements), len(checks)))
    event.remove(h.svc.engine.sync_engine, "before_cursor_execute", seen)
    assert work[0] == work[1] and work[0][1] == 1
