"""Pure core pieces: passwords, opaque tokens, throttle policy, access-token claims."""

from __future__ import annotations

import pytest

from gatepass.core import access_token as at
from gatepass.core import opaque
from gatepass.core.passwords import Passwords, WeakPassword, check_password_policy
from gatepass.core.throttle import Counter, Policy, Verdict, reserve


@pytest.fixture(scope="module")
def pw() -> Passwords:
    return Passwords()


def test_argon2id_parameters_at_least_owasp_minimum(pw: Passwords) -> None:
    h = pw.hash("long enough password")
    assert h.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_verify_right_wrong_unknown(pw: Passwords) -> None:
    h = pw.hash("long enough password")
    assert pw.verify(h, "long enough password").ok
    assert not pw.verify(h, "wrong password!").ok
    assert not pw.verify(None, "long enough password").ok  # unknown user: dummy hash, fails


def test_rehash_when_parameters_change(pw: Passwords) -> None:
    weaker_hash = Passwords(memory_kib=19456, time_cost=2).hash("long enough password")
    stronger = Passwords(memory_kib=19456, time_cost=3)
    result = stronger.verify(weaker_hash, "long enough password")
    assert result.ok and result.new_hash is not None and ",t=3," in result.new_hash
    assert stronger.verify(result.new_hash, "long enough password").new_hash is None


def test_odd_passwords_never_raise(pw: Passwords) -> None:
    h = pw.hash("long enough password")
    assert not pw.verify(h, "\ud800 lone surrogate").ok
    assert not pw.verify(h, "x" * 100_000).ok
    assert not pw.verify("not-a-hash", "whatever").ok


def test_password_policy() -> None:
    for bad in ("short", "has\x00nul-inside", "x" * 2000, "\udc80abcdefgh"):
        with pytest.raises(WeakPassword):
            check_password_policy(bad)
    check_password_policy("eight ch")


def test_opaque_tokens_have_256_bits_and_only_digest_is_kept() -> None:
    t = opaque.new_token(opaque.REFRESH_PREFIX)
    assert t.startswith("gpr_") and len(t) == 4 + 43
    assert opaque.new_token("x_") != opaque.new_token("x_")
    d = opaque.digest(t)
    assert len(d) == 64 and t not in d
    assert opaque.matches(t, d) and not opaque.matches(t + "x", d)


def test_throttle_locks_after_threshold_and_backs_off_with_cap() -> None:
    policy = Policy(threshold=3, window=900, max_lock=100, base=30)
    c = Counter()
    locks = []
    now = 1000.0
    for _ in range(16):
        c, verdict = reserve(c, policy, now)
        if verdict is Verdict.LOCK_STARTED:
            locks.append(c.locked_until - now)
            now = c.locked_until
    assert locks == [30, 60, 100, 100]  # doubles, never past max_lock


def test_throttle_refuses_during_a_lock_and_allows_at_most_threshold() -> None:
    policy = Policy(threshold=3, window=900, max_lock=100, base=30)
    c = Counter()
    verdicts = []
    for _ in range(6):  # all at the same instant: none has been checked yet
        c, verdict = reserve(c, policy, 0)
        verdicts.append(verdict)
    assert verdicts == [Verdict.ALLOWED] * 3 + [Verdict.LOCK_STARTED] + [Verdict.LOCKED] * 2


def test_throttle_window_expiry_forgives() -> None:
    policy = Policy(threshold=3, window=60, max_lock=100, base=30)
    c, _ = reserve(Counter(), policy, 0)
    c, _ = reserve(c, policy, 1)
    c, verdict = reserve(c, policy, 200)  # the window ran out: counting starts again
    assert verdict is Verdict.ALLOWED and c.failures == 1
    assert c.expires_at(policy) == 260


def _claims(**over):
    base = at.build_claims(
        issuer="https://iss",
        subject="u1",
        audience="api",
        client_id="c1",
        scope=["b", "a"],
        roles=["r"],
        now=1000,
        ttl=60,
        sid="s1",
    )
    base.update(over)
    return base


def _validate(payload, header=None, now=1000, **kw):
    return at.validate(
        header or {"typ": "at+jwt"},
        payload,
        issuer=kw.get("issuer", "https://iss"),
        audience=kw.get("audience", "api"),
        now=now,
        leeway=kw.get("leeway", 30),
    )


def test_build_and_validate_claims() -> None:
    c = _validate(_claims())
    assert c.sub == "u1" and c.scope == frozenset({"a", "b"}) and c.scope_str == "a b"
    assert c.roles == frozenset({"r"}) and c.sid == "s1" and c.exp == 1060


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"iss": "https://other"}, at.WrongIssuer),
        ({"aud": "other"}, at.WrongAudience),
        ({"aud": []}, at.WrongAudience),
        ({"aud": 5}, at.WrongAudience),
        ({"exp": "1060"}, at.ClaimError),
        ({"exp": True}, at.ClaimError),
        ({"exp": float("nan")}, at.ClaimError),
        ({"sub": ""}, at.ClaimError),
        ({"sub": 7}, at.ClaimError),
        ({"jti": None}, at.ClaimError),
        ({"client_id": None}, at.ClaimError),
        ({"scope": ["a"]}, at.ClaimError),
        ({"roles": "admin"}, at.ClaimError),
    ],
)
def test_claim_refusals(change: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        _validate(_claims(**change))


def test_time_checks_with_leeway() -> None:
    claims = _claims()
    _validate(claims, now=1060 + 29)
    with pytest.raises(at.ExpiredClaim):
        _validate(claims, now=1060 + 30)  # exp + leeway reached
    with pytest.raises(at.NotYetValidClaim):
        _validate(_claims(nbf=1100), now=1000)
    _validate(_claims(nbf=1020), now=1000)
    with pytest.raises(at.NotYetValidClaim):
        _validate(_claims(iat=1100), now=1000)


def test_list_audience_and_typ_spellings() -> None:
    _validate(_claims(aud=["x", "api"]))
    _validate(_claims(), header={"typ": "application/at+jwt"})
    for typ in ("JWT", None, "at+JWT2"):
        with pytest.raises(at.WrongType):
            _validate(_claims(), header={"typ": typ})


HASH_IN_THREADS = """
import concurrent.futures, sys
from gatepass.core.passwords import Passwords

def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

pw = Passwords()  # 19 MiB per hash, as the server's
stored = pw.hash("correct horse battery staple")
before = rss_mib()
with concurrent.futures.ThreadPoolExecutor(6) as pool:  # as logins in the loop's executor
    for _ in range(3):
        list(pool.map(lambda _: pw.verify(stored, "correct horse battery staple"), range(12)))
print(rss_mib() - before)
"""


@pytest.mark.skipif(
    __import__("platform").libc_ver()[0] != "glibc" or not __import__("os").path.exists("/proc"),
    reason="glibc's malloc arenas, read in /proc",
)
def test_password_hashes_in_threads_give_their_memory_back() -> None:
    """Argon2id's 19 MiB block, hashed in six threads: without a fixed mmap threshold glibc kept
    it in each thread's arena (~114 MiB more after the hashes; bench/soak.py found the server's
    workers growing in 20 MiB steps). Now the blocks go back: far less than two stay."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", HASH_IN_THREADS], capture_output=True, text=True, check=True
    )
    assert float(out.stdout) < 2 * 19
