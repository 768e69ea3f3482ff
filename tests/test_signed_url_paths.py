"""Property tests (hypothesis): path canonicalisation can never widen a grant.

Generated request paths, full of traversal spellings, are checked against a signed prefix grant
and a signed exact grant. The reference rule: whenever the verifier accepts a path, every way a
file server might read that path (decode everything; leave ``%2f`` encoded; treat ``\\`` as a
separator; decode twice; do not decode at all; then merge slashes and resolve dot segments) lands
inside the grant. And on plain paths (no escapes, no dot segments) the verifier accepts exactly
the paths under the prefix.
"""

from __future__ import annotations

from urllib.parse import unquote, unquote_to_bytes

from hypothesis import example, given, settings
from hypothesis import strategies as st

from gatepass.core import signed_url as su

NOW = 1_800_000_000
SECRET = b"p" * 32
KID = "propkey"
KEYS = {KID: su.UrlVerifyKey(KID, SECRET)}
PREFIX = "/videos/42/"
EXACT = "/videos/42/master.m3u8"
PREFIX_Q = su.sign_query(SECRET, KID, kind="prefix", scope=PREFIX, exp=NOW + 60)
EXACT_Q = su.sign_query(SECRET, KID, kind="path", scope=EXACT, exp=NOW + 60)

TOKENS = [
    "videos", "42", "420", "43", "4", "2", "master.m3u8", "master", ".m3u8", "/", "//", ".", "..",
    "%2e", "%2E", "%2e%2e", ".%2e", "%2f", "%2F", "\\", "%5c", "%5C", "%00", "\x00", "%25",
    "%252e", "%252e%252e", "%252f", "..%252f", "%", "%zz", "%4", "a", "%41", "%61", "é",
    "%c3%a9", "%c0%ae", "%c0%af", "%e0%80%ae", ";", " ", "%20", "~", "%7e", "\t", "%0a", "%ff",
]  # fmt: skip

raw_paths = st.builds(
    lambda head, parts: head + "".join(parts),
    st.sampled_from(["/", "/videos/", "/videos/42/", "/videos/42", EXACT, "/videos/4"]),
    st.lists(st.sampled_from(TOKENS), max_size=8),
)


def _decode(raw: str, keep_slash: bool = False) -> str:
    if keep_slash:
        raw = raw.replace("%2f", "\x01").replace("%2F", "\x01")
    text = unquote_to_bytes(raw).decode("utf-8", "surrogateescape")
    return text.replace("\x01", "%2F")


def _resolve(path: str, backslash_is_separator: bool = False) -> str | None:
    """Merge slashes and remove dot segments (RFC 3986 §5.2.4); None when it climbs above /."""
    if backslash_is_separator:
        path = path.replace("\\", "/")
    out: list[str] = []
    segments = path.split("/")[1:]
    for seg in segments:
        if seg == "..":
            if not out:
                return None
            out.pop()
        elif seg not in (".", ""):
            out.append(seg)
    trailing = bool(segments) and segments[-1] in ("", ".", "..")
    return "/" + "/".join(out) + ("/" if trailing and out else "")


def readings(raw: str) -> list[str | None]:
    """The paths a file server might serve for ``raw``."""
    return [
        _resolve(_decode(raw)),
        _resolve(_decode(raw, keep_slash=True)),
        _resolve(_decode(raw), backslash_is_separator=True),
        _resolve(_decode(unquote(raw, errors="surrogateescape"))),
        _resolve(raw),
    ]


def accepted(raw: str, query: str) -> bool:
    try:
        su.verify(f"{raw}?{query}", KEYS, now=NOW)
    except su.SignedUrlError:
        return False
    return True


@settings(max_examples=3000, deadline=None)
@given(raw_paths)
@example("/videos/42/%252e%252e/43/x")
@example("/videos/42/..%2f43/x")
@example("/videos/42/..\\43/x")
def test_an_accepted_path_is_inside_the_prefix_however_it_is_read(raw: str) -> None:
    if not accepted(raw, PREFIX_Q):
        return
    for reading in readings(raw):
        assert reading is not None and reading.startswith(PREFIX), (raw, reading)
        assert "\x00" not in reading


@settings(max_examples=3000, deadline=None)
@given(raw_paths)
def test_an_accepted_path_is_the_exact_path_however_it_is_read(raw: str) -> None:
    if not accepted(raw, EXACT_Q):
        return
    assert all(reading == EXACT for reading in readings(raw)), raw


segment = st.text(alphabet="abcz019-_.~", min_size=1, max_size=6).filter(
    lambda s: s not in (".", "..")
)
plain_paths = st.builds(
    lambda segs, slash: "/" + "/".join(segs) + ("/" if slash and segs else ""),
    st.lists(st.one_of(segment, st.sampled_from(["videos", "42", "420", "43"])), max_size=5),
    st.booleans(),
)


@settings(max_examples=1000, deadline=None)
@given(plain_paths)
def test_on_plain_paths_the_prefix_rule_is_startswith(path: str) -> None:
    assert accepted(path, PREFIX_Q) == path.startswith(PREFIX)
    assert accepted(path, EXACT_Q) == (path == EXACT)


decoded_paths = st.lists(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\%\x7f"),
        min_size=1,
        max_size=8,
    ).filter(lambda s: s not in (".", "..")),
    min_size=1,
    max_size=4,
).map(lambda segs: "/" + "/".join(segs))


@settings(max_examples=500, deadline=None)
@given(decoded_paths)
def test_encode_then_canonicalise_is_the_identity(path: str) -> None:
    assert su.canonical_path(su.encode_path(path)) == path
    q = su.sign_query(SECRET, KID, kind="path", scope=path, exp=NOW + 60)
    assert accepted(su.encode_path(path), q)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("/.\\ a1é%\x00\x7f~")), max_size=12))
def test_the_fast_path_for_plain_paths_agrees_with_the_full_check(raw: str) -> None:
    raw = raw.replace("%", "")
    fast = bool(raw) and su._CANONICAL_PLAIN.fullmatch(raw) is not None
    full = (
        raw.startswith("/")
        and su._RAW_OK.fullmatch(raw) is not None
        and su._CANONICAL.fullmatch(raw) is not None
    )
    assert fast == full, raw
