"""core/signed_url.py, core/url_keys.py and core/playback.py: each restriction on its own."""

from __future__ import annotations

import pytest

from gatepass.core import playback
from gatepass.core import signed_url as su
from gatepass.core.url_keys import UrlKey, UrlKeyRing, playback_secret, rotation_plan
from gatepass.sdk.signed_url import SignedUrlVerifier, verify_signed_url

NOW = 1_800_000_000
SECRET = b"s" * 32
KID = "k1a2b3c4d5e6"
KEYS = {KID: su.UrlVerifyKey(KID, SECRET)}


def signed(scope: str, *, kind: su.ScopeKind = "path", exp: int = NOW + 600, ip: str = "") -> str:
    return su.sign(SECRET, KID, kind=kind, scope=scope, exp=exp, ip=ip)


def query_of(url: str) -> str:
    return url.split("?", 1)[1]


def refused(uri: str, reason: str, *, now: float = NOW, ip: str | None = None, keys=KEYS) -> None:
    with pytest.raises(su.SignedUrlError) as info:
        su.verify(uri, keys, now=now, client_ip=ip)
    assert info.value.reason == reason, info.value


def test_exact_path_grant_verifies() -> None:
    uri = signed("/videos/42/master.m3u8")
    grant = su.verify(uri, KEYS, now=NOW)
    assert grant == su.Grant("path", "/videos/42/master.m3u8", NOW + 600, "", KID)


def test_prefix_grant_covers_everything_under_it() -> None:
    q = query_of(signed("/videos/42/", kind="prefix"))
    for path in ("/videos/42/", "/videos/42/master.m3u8", "/videos/42/hd/seg00001.ts"):
        assert su.verify(f"{path}?{q}", KEYS, now=NOW).scope == "/videos/42/"


def test_other_query_parameters_are_allowed_and_not_covered() -> None:
    uri = signed("/f/a.mp4")
    assert su.verify(uri + "&_HLS_msn=3", KEYS, now=NOW).kind == "path"
    assert su.verify(uri.replace("?", "?v=2&"), KEYS, now=NOW).kind == "path"


# -- each restriction on its own -------------------------------------------------------------
def test_tampered_signature() -> None:
    uri = signed("/videos/42/master.m3u8")
    last = uri[-1]
    refused(uri[:-1] + ("A" if last != "A" else "B"), "signature")
    refused(uri[:-1], "malformed")  # wrong length
    # right length, not base64url: refused as malformed (compare_digest raised on non-ASCII)
    refused(uri[:-1] + "%C3%A9", "malformed")
    refused(uri[:-1] + "=", "malformed")


def test_changed_expiry() -> None:
    uri = signed("/videos/42/master.m3u8")
    refused(uri.replace(f"exp={NOW + 600}", f"exp={NOW + 6000}"), "signature")
    refused(uri.replace(f"exp={NOW + 600}", f"exp=+{NOW + 600}"), "malformed")


def test_expired_on_and_after_exp() -> None:
    uri = signed("/a", exp=NOW + 10)
    su.verify(uri, KEYS, now=NOW + 9.999)
    refused(uri, "expired", now=NOW + 10)
    refused(uri, "expired", now=NOW + 1000)


def test_wrong_address() -> None:
    uri = signed("/a", ip="203.0.113.7")
    assert su.verify(uri, KEYS, now=NOW, client_ip="203.0.113.7").ip == "203.0.113.7"
    su.verify(uri, KEYS, now=NOW, client_ip="::ffff:203.0.113.7")  # the same address
    refused(uri, "address", ip="203.0.113.8")
    refused(uri, "address", ip=None)
    refused(uri, "address", ip="not an address")
    refused(uri.replace("ip=203.0.113.7", "ip=203.0.113.8"), "signature", ip="203.0.113.8")
    # dropping the binding breaks the signature
    refused(uri.replace("&ip=203.0.113.7", ""), "signature", ip="198.51.100.1")


def test_network_binding() -> None:
    uri = signed("/a", ip="2001:db8::/32")
    su.verify(uri, KEYS, now=NOW, client_ip="2001:db8:1::5")
    refused(uri, "address", ip="2001:db9::1")
    refused(uri, "address", ip="203.0.113.7")


def test_out_of_prefix() -> None:
    q = query_of(signed("/videos/42/", kind="prefix"))
    for path in ("/videos/420/x", "/videos/43/x", "/videos/4/x", "/videos/42", "/videos/", "/"):
        refused(f"{path}?{q}", "scope")


def test_widening_the_prefix_parameter_breaks_the_signature() -> None:
    q = query_of(signed("/videos/42/", kind="prefix"))
    refused("/videos/43/x?" + q.replace("prefix=/videos/42/", "prefix=/videos/"), "signature")
    refused("/videos/43/x?" + q.replace("prefix=/videos/42/", "prefix=/"), "signature")
    # an exact grant turned into a prefix grant
    exact = signed("/videos/42/")
    refused("/videos/42/x?" + query_of(exact) + "&prefix=/videos/42/", "signature")
    refused("/videos/42/x?" + query_of(exact), "signature")


TRAVERSALS = [
    "/videos/42/../43/x",
    "/videos/42/./../43/x",
    "/videos/42/%2e%2e/43/x",
    "/videos/42/%2E%2E/43/x",
    "/videos/42/.%2e/43/x",
    "/videos/42/%2e./43/x",
    "/videos/42%2f..%2f43/x",
    "/videos/42/..%2f43/x",
    "/videos/42%2F43/x",
    "/videos/42/..\\43/x",
    "/videos/42/..%5c43/x",
    "/videos/42/%252e%252e/43/x",
    "/videos/42//../43/x",
    "/videos/42/x%00.ts",
    "/videos/42/x\x00.ts",
    "/videos/42/%c0%ae%c0%ae/43/x",
    "/videos/42/%/x",
    "/videos/42/%zz/x",
    "/videos/42/%2",
    "/videos/42/x%0a",
    "/videos/42/a b",
    "/videos/42/.",
    "/videos/42/..",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_spellings_are_refused(path: str) -> None:
    q = query_of(signed("/videos/42/", kind="prefix"))
    with pytest.raises((su.BadPath, su.OutOfScope)):
        su.verify(f"{path}?{q}", KEYS, now=NOW)


def test_unknown_key_id() -> None:
    uri = signed("/a")
    refused(uri.replace(f"kid={KID}", "kid=ffffffffffff"), "unknown_key")
    refused(uri, "unknown_key", keys={})


def test_retired_key_after_its_urls_expired() -> None:
    keys = {KID: su.UrlVerifyKey(KID, SECRET, not_after=NOW + 100)}
    uri = signed("/a", exp=NOW + 10_000)  # as if signed by whoever still holds the old key
    su.verify(uri, keys, now=NOW + 99)
    refused(uri, "unknown_key", now=NOW + 100, keys=keys)


def test_repeated_and_missing_parameters() -> None:
    uri = signed("/a")
    refused(uri + f"&exp={NOW + 99999}", "malformed")
    refused(uri + "&kid=other", "malformed")
    refused("/a", "malformed")
    refused(uri.replace("&sig=", "&sog="), "malformed")
    refused("/a?exp=1&kid=k&sig=" + "A" * 43 + "&prefix=/a/&prefix=/", "malformed")


def test_percent_encoded_unreserved_characters_mean_the_same_path() -> None:
    uri = signed("/videos/42/a.ts")
    su.verify(uri.replace("a.ts", "%61%2ets"), KEYS, now=NOW)
    u2 = signed("/media/é x.mp4")
    assert u2.startswith("/media/%C3%A9%20x.mp4?")
    su.verify(u2, KEYS, now=NOW)


def test_signing_refuses_non_canonical_scopes() -> None:
    for bad in ("videos/42", "/a/../b", "/a//b", "/a/./b", "/a\\b", "/a%2fb", "/a\x00"):
        with pytest.raises(su.BadPath):
            su.sign_query(SECRET, KID, kind="path", scope=bad, exp=NOW)
    with pytest.raises(su.BadPath):
        su.sign_query(SECRET, KID, kind="prefix", scope="/videos/42", exp=NOW)


def test_canonical_ip() -> None:
    assert su.canonical_ip("::ffff:10.0.0.1") == "10.0.0.1"
    assert su.canonical_ip("2001:DB8:0::1") == "2001:db8::1"
    assert su.canonical_ip("10.1.2.3/24") == "10.1.2.0/24"
    assert su.canonical_ip("10.1.2.3/32") == "10.1.2.3"
    with pytest.raises(ValueError):
        su.canonical_ip("10.1.2")


# -- keys ---------------------------------------------------------------------------------------
def test_rotation_plan_promotes_next_and_retires_active() -> None:
    first = rotation_plan([], now=NOW, retire_after=100)
    assert [k.state for k in first] == ["active", "next"]
    nxt = first[1]
    second = rotation_plan(first, now=NOW + 5, retire_after=100)
    by_kid = {k.kid: k for k in second}
    assert by_kid[first[0].kid].state == "retiring"
    assert by_kid[first[0].kid].retire_at == NOW + 105
    assert by_kid[nxt.kid].state == "active" and by_kid[nxt.kid].secret == nxt.secret
    third = rotation_plan(second, now=NOW + 200, retire_after=100)
    assert {k.kid: k.state for k in third}[first[0].kid] == "retired"


def test_ring_accepts_next_active_and_retiring_until_its_time() -> None:
    ring = UrlKeyRing(
        tuple(
            rotation_plan(rotation_plan([], now=NOW, retire_after=100), now=NOW, retire_after=100)
        )
    )
    states = {k.kid: k.state for k in ring.keys}
    assert sorted(states.values()) == ["active", "next", "retiring"]
    assert set(ring.verify_keys(NOW + 99)) == set(states)
    retiring = next(k for k in ring.keys if k.state == "retiring")
    # the verifier also gets the end time, so it stops accepting between two reloads
    assert ring.verify_keys(NOW)[retiring.kid].not_after == NOW + 100
    assert retiring.kid not in ring.verify_keys(NOW + 100)


def test_key_secrets_are_random_and_distinct() -> None:
    a, b = UrlKey.new(state="active", now=NOW), UrlKey.new(state="next", now=NOW)
    assert a.kid != b.kid and a.secret != b.secret and len(a.secret) == 32
    assert playback_secret(a.secret) != a.secret


# -- playback JWTs ------------------------------------------------------------------------------
ISS, AUD = "https://auth.example", "gatepass-playback"


def playback_token(vid: str = "42", ttl: int = 3600, ip: str = "", secret: bytes = SECRET) -> str:
    claims = playback.build_claims(
        issuer=ISS, audience=AUD, subject="u1", vid=vid, now=NOW, ttl=ttl, ip=ip
    )
    return playback.sign(claims, KID, playback_secret(secret))


def test_playback_token_covers_one_video() -> None:
    edge = SignedUrlVerifier({KID: SECRET}, issuer=ISS, clock=lambda: NOW)
    tok = playback_token()
    assert edge.check(f"/videos/42?token={tok}")
    assert edge.check(f"/videos/42/seg1.ts?token={tok}")
    for other in ("/videos/43", "/videos/420", "/videos/42x/a", "/videos/42/../43", "/videos"):
        assert not edge.check(f"{other}?token={tok}")
    assert not edge.check(f"/videos/42?token={tok}&token={tok}")
    assert edge.check(f"/videos/42?xsig=1&token={tok}")  # chosen by parameter name


def test_playback_token_restrictions() -> None:
    edge = SignedUrlVerifier({KID: SECRET}, issuer=ISS, clock=lambda: NOW + 3600)
    assert not edge.check(f"/videos/42?token={playback_token()}")  # expired
    edge = SignedUrlVerifier({KID: SECRET}, issuer=ISS, clock=lambda: NOW)
    assert not edge.check(f"/videos/42?token={playback_token(secret=b'x' * 32)}")
    bound = playback_token(ip="203.0.113.7")
    assert edge.check(f"/videos/42?token={bound}", "203.0.113.7")
    assert not edge.check(f"/videos/42?token={bound}", "203.0.113.8")
    other_aud = SignedUrlVerifier(
        {KID: SECRET}, issuer=ISS, playback_audience="x", clock=lambda: NOW
    )
    assert not other_aud.check(f"/videos/42?token={playback_token()}")
    # the raw URL key (not the derived one) does not verify a playback token
    claims = playback.build_claims(issuer=ISS, audience=AUD, subject="u", vid="42", now=NOW, ttl=60)
    assert not edge.check(f"/videos/42?token={playback.sign(claims, KID, SECRET)}")


def test_sdk_plain_function() -> None:
    uri = signed("/videos/42/", kind="prefix", ip="203.0.113.7")
    seg = "/videos/42/seg1.ts?" + query_of(uri)
    assert verify_signed_url(seg, {KID: SECRET}, client_ip="203.0.113.7", now=NOW)
    assert not verify_signed_url(seg, {KID: SECRET}, client_ip="203.0.113.8", now=NOW)
    assert not verify_signed_url(seg, {KID: SECRET}, client_ip="203.0.113.7", now=NOW + 600)
    assert not SignedUrlVerifier({KID: SECRET}).check(None)
    assert not SignedUrlVerifier({KID: SECRET}).check("/videos/42/seg1.ts")


def test_zone_ids_are_refused_on_both_sides() -> None:
    for zoned in ("fe80::1%eth0", "fe80::1%25eth0", "fe80::%1/64"):
        with pytest.raises(ValueError):
            su.canonical_ip(zoned)
        with pytest.raises(ValueError):
            signed("/a", ip=zoned)
    uri = signed("/a", ip="fe80::1")
    assert not su.address_matches("fe80::1", "fe80::1%eth0")  # a zoned client: fail closed
    su.verify(uri, KEYS, now=NOW, client_ip="fe80::1")


def test_checks_in_threads_share_each_key_without_mixing_their_urls() -> None:
    """Each check copies the key's HMAC (``UrlVerifyKey.mac``) and never writes to it: threads
    checking different URLs with one key at once all get their own right answer, and the key
    still verifies afterwards."""
    import threading

    edge = SignedUrlVerifier({KID: SECRET}, clock=lambda: NOW)
    wrong: list[str] = []

    def work(n: int) -> None:
        for i in range(300):
            uri = signed(f"/videos/{n}/seg{i}.ts", exp=NOW + 600 + i)
            forged = uri.replace(f"seg{i}.ts", f"seg{i + 1}.ts")
            if not edge.check(uri) or edge.check(forged):
                wrong.append(uri)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
    assert edge.check(signed("/videos/42/master.m3u8"))
    # the verifier's key still holds no message: its MAC of nothing is a fresh key's
    assert edge._keys[KID].mac.digest() == su.keyed_mac(SECRET).digest()


def test_signing_and_checking_compute_the_same_signature() -> None:
    key = su.UrlVerifyKey(KID, SECRET)
    for args in (("path", "/a/b.ts", NOW, ""), ("prefix", "/a/", NOW + 1, "203.0.113.0/24")):
        sig = su.signature(SECRET, KID, *args)
        assert su.signed(key.mac, KID, *args).decode() == sig
        assert len(sig) == su.SIG_LEN and "=" not in sig and "+" not in sig and "/" not in sig


def test_key_secrets_are_not_shown_in_a_keys_repr() -> None:
    """A key that ends up in a log line or an error message must not carry its secret there."""
    shown = repr(su.UrlVerifyKey(KID, SECRET)) + repr(
        SignedUrlVerifier({KID: SECRET}, issuer="https://i.example")._playback
    )
    assert KID in shown
    assert repr(SECRET)[2:-1] not in shown and repr(playback_secret(SECRET))[2:-1] not in shown


def test_an_overlong_uri_is_refused_before_its_signature_is_read() -> None:
    padding = "&x=" + "a" * su.MAX_URI_BYTES
    too_long = signed("/videos/42/master.m3u8") + padding
    refused(too_long, "malformed")
    edge = SignedUrlVerifier({KID: SECRET}, issuer="https://i.example", clock=lambda: NOW)
    # a signed URL, a playback JWT's URL and one with neither: the length is the first check
    for uri in (too_long, "/videos/42/master.m3u8?token=e30.e30.e30" + padding, "/a?" + padding):
        with pytest.raises(su.MalformedUrl, match="URI too long"):
            edge.verify(uri)
