"""The pure refresh-family state machine (core/refresh.py)."""

from __future__ import annotations

from gatepass.core import opaque
from gatepass.core.refresh import (
    Family,
    Presented,
    Verdict,
    child_token,
    judge,
    judge_used,
    moves_login,
    next_idle_deadline,
)

NOW = 1_000_000.0
FAM = Family("gps1", "app", expires_at=NOW + 100, idle_expires_at=NOW + 50, revoked=False)


def test_child_is_deterministic_256_bits_and_keyed() -> None:
    d = opaque.digest("gpr_parent")
    a, b = child_token(b"k" * 32, d), child_token(b"k" * 32, d)
    assert a == b and a.startswith("gpr_") and len(a) == 4 + 43
    assert child_token(b"x" * 32, d) != a
    assert child_token(b"k" * 32, opaque.digest("gpr_other")) != a


def test_unused_token_rotates() -> None:
    j = judge(FAM, Presented(0, None, NOW + 50), client_id="app", now=NOW)
    assert j.verdict is Verdict.ROTATE


def test_refusals_are_invalid_not_reuse() -> None:
    tok = Presented(0, None, NOW + 50)
    assert judge(None, None, client_id="app", now=NOW).verdict is Verdict.INVALID
    assert judge(FAM, tok, client_id="other", now=NOW).verdict is Verdict.INVALID
    revoked = Family("gps1", "app", NOW + 100, NOW + 50, revoked=True)
    assert judge(revoked, tok, client_id="app", now=NOW).verdict is Verdict.INVALID
    assert judge(FAM, tok, client_id="app", now=NOW + 50).verdict is Verdict.INVALID  # idle
    late = Family("gps1", "app", NOW + 10, NOW + 50, revoked=False)
    assert judge(late, tok, client_id="app", now=NOW + 10).verdict is Verdict.INVALID  # absolute
    expired = Presented(0, None, NOW)
    assert judge(FAM, expired, client_id="app", now=NOW).verdict is Verdict.INVALID
    # a used token in a live family, from the right client, goes on to judge_used
    used = Presented(0, NOW - 1, NOW + 50)
    assert judge(FAM, used, client_id="app", now=NOW).verdict is Verdict.REUSE


def test_grace_only_for_the_immediate_predecessor() -> None:
    used = Presented(3, NOW - 2, NOW + 50)
    assert judge_used(used, child_used=False, now=NOW, grace=5).verdict is Verdict.REPLAY
    assert judge_used(used, child_used=False, now=NOW, grace=1).verdict is Verdict.REUSE
    assert judge_used(used, child_used=True, now=NOW, grace=5).verdict is Verdict.REUSE
    assert judge_used(used, child_used=None, now=NOW, grace=5).verdict is Verdict.REUSE
    assert judge_used(used, child_used=False, now=NOW, grace=0).verdict is Verdict.REUSE


def test_idle_deadline_never_passes_the_absolute_one() -> None:
    assert next_idle_deadline(FAM, NOW, 30) == NOW + 30
    assert next_idle_deadline(FAM, NOW, 1000) == NOW + 100


def test_the_login_row_moves_only_by_more_than_the_step() -> None:
    # FAM's idle deadline is NOW + 50
    assert not moves_login(FAM, NOW + 50, 60.0)  # no move
    assert not moves_login(FAM, NOW + 110, 60.0)  # by exactly the step: kept
    assert moves_login(FAM, NOW + 110.5, 60.0)
