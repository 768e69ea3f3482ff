"""Signed URLs: canonical path, canonical string, HMAC-SHA256, scope, expiry, address binding.

Pure: no I/O; the time, the keys and the client address are passed in.

A signed URL is the granted path (or any path under the granted prefix) with query parameters:

    /videos/42/master.m3u8?exp=1800000600&kid=3f9ac0d2e1b4&sig=<43 chars base64url>
    /videos/42/seg7.ts?exp=1800000600&prefix=/videos/42/&ip=203.0.113.7&kid=…&sig=…

``sig`` is HMAC-SHA256 under the key ``kid`` of the canonical string::

    "gatepass-url-v1" LF kid LF ("path" | "prefix") LF scope LF exp LF ip

where ``scope`` is the canonical path (exact grant) or the canonical prefix ending in ``/``, and
``ip`` is the bound address or network in canonical text, or empty. The signature is compared in
constant time. Other query parameters are allowed and not covered (a file server ignores them);
a repeated signed-URL parameter is refused.

Paths are canonicalised once (:func:`canonical_path`) and anything that could be read two ways
is refused rather than normalised, so that a grant can never widen:

* the raw path must be printable ASCII starting with ``/``;
* percent-escapes must be well formed and decode to UTF-8; encoded unreserved characters
  (``%41``, ``%2e``) are decoded, since every server decodes them alike;
* refused, encoded or not: ``/`` from an escape (``%2f``), ``\\``, ``%`` (double encoding),
  NUL and control characters, empty segments (``//``), and ``.`` or ``..`` segments.

So ``/videos/42/`` covers ``/videos/42/seg1.ts`` and nothing of ``/videos/420/x``,
``/videos/43/x``, ``/videos/42/../43/x``, ``/videos/42/%2e%2e/43/x`` or ``/videos/42%2f..%2f43/x``.
"""

from __future__ import annotations

import binascii
import functools
import hmac
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple
from urllib.parse import quote

VERSION = "gatepass-url-v1"
MAX_URI_BYTES = 4096
SIG_LEN = 43  # base64url of 32 bytes, unpadded
KID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The decoded, canonical form: segments of anything but "/", "\", "%" and control characters,
# none of them "." or "..", no empty segment except a trailing slash.
_CANONICAL = re.compile(r"(?:/(?!\.\.?(?:/|\Z))[^/\\%\x00-\x1f\x7f]+)*/?")
_RAW_OK = re.compile(r"[\x21-\x7e]*")
# The same for a raw path without any escape: printable ASCII but "%", in one match.
_CANONICAL_PLAIN = re.compile(r"(?:/(?!\.\.?(?:/|\Z))[\x21-\x24\x26-\x2e\x30-\x5b\x5d-\x7e]+)*/?")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_FORBIDDEN_DECODED = frozenset(b"/\\%")
_EXP_RE = re.compile(r"[0-9]{1,12}")
_SIG_RE = re.compile(f"[A-Za-z0-9_-]{{{SIG_LEN}}}")  # base64url; compare_digest wants ASCII
_PATH_SAFE = "/-._~!$&'()*+,;=:@"
PARAMS = ("exp", "prefix", "ip", "kid", "sig")
_PARAMS = frozenset(PARAMS)
_TO_URL_SAFE = bytes.maketrans(b"+/", b"-_")  # standard base64 -> base64url (with b"=" deleted)
_new_tuple = tuple.__new__

ScopeKind = Literal["path", "prefix"]


class SignedUrlError(Exception):
    """A signed URL is refused; ``reason`` is a short machine word, safe to log."""

    reason = "invalid"


class MalformedUrl(SignedUrlError):
    reason = "malformed"


class BadPath(SignedUrlError):
    reason = "path"


class OutOfScope(SignedUrlError):
    reason = "scope"


class Expired(SignedUrlError):
    reason = "expired"


class UnknownKey(SignedUrlError):
    reason = "unknown_key"


class BadSignature(SignedUrlError):
    reason = "signature"


class WrongAddress(SignedUrlError):
    reason = "address"


# -- paths ----------------------------------------------------------------------------------
def _percent_decode(raw: str) -> str:
    """Strict percent-decoding: every ``%`` starts two hex digits; the bytes are UTF-8; no
    escape may produce ``/``, ``\\`` or ``%``."""
    data = raw.encode("ascii")
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        if c == 0x25:  # "%"
            if i + 2 >= n:
                raise BadPath("truncated percent-escape")
            h1, h2 = data[i + 1], data[i + 2]
            if h1 not in _HEX or h2 not in _HEX:
                raise BadPath("bad percent-escape")
            b = int(data[i + 1 : i + 3], 16)
            if b in _FORBIDDEN_DECODED:
                raise BadPath("encoded slash, backslash or percent")
            out.append(b)
            i += 3
        else:
            out.append(c)
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise BadPath("path is not UTF-8") from None


def canonical_path(raw: str) -> str:
    """The one canonical form of a raw (still percent-encoded) request path, or :class:`BadPath`.

    The result is decoded text. Nothing is normalised that could be read another way: a path
    with ``.``/``..`` segments, ``//``, backslashes, NUL, control characters, an encoded ``/``,
    ``\\`` or ``%`` is refused.
    """
    if raw and len(raw) <= MAX_URI_BYTES and "%" not in raw and _CANONICAL_PLAIN.fullmatch(raw):
        return raw  # the common case: nothing to decode, already canonical
    if not raw.startswith("/") or len(raw) > MAX_URI_BYTES or _RAW_OK.fullmatch(raw) is None:
        raise BadPath("path must be printable ASCII starting with /")
    decoded = _percent_decode(raw) if "%" in raw else raw
    if _CANONICAL.fullmatch(decoded) is None:
        raise BadPath("path is not canonical")
    return decoded


def check_decoded_path(path: str) -> str:
    """Validate a path given as text (not percent-encoded), as when a URL is requested.

    Returns it unchanged when it is canonical; raises :class:`BadPath` otherwise.
    """
    if not path.startswith("/") or len(path) > MAX_URI_BYTES:
        raise BadPath("path must start with /")
    if _CANONICAL.fullmatch(path) is None:
        raise BadPath("path is not canonical")
    return path


def encode_path(path: str) -> str:
    """Percent-encode a canonical decoded path for use in a URL (inverse of canonical_path)."""
    return quote(path, safe=_PATH_SAFE)


def covers(kind: ScopeKind, scope: str, path: str) -> bool:
    """Whether a grant of ``kind`` over the canonical ``scope`` covers the canonical ``path``."""
    if kind == "path":
        return path == scope
    return scope.endswith("/") and path.startswith(scope)


# -- addresses ------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4096)
def canonical_ip(value: str) -> str:
    """An address (``203.0.113.7``, ``2001:db8::1``) or network (``203.0.113.0/24``) in its one
    canonical text; IPv4-mapped IPv6 addresses become IPv4. ``ValueError`` when it is neither,
    and for an IPv6 zone id (``fe80::1%eth0``, RFC 6874): it names an interface of one host, and
    its ``%`` would not survive the URL's percent-encoding unchanged."""
    if not value or len(value) > 64:
        raise ValueError("empty or too long")
    if "%" in value:
        raise ValueError("zone id")
    if "/" in value:
        net = ipaddress.ip_network(value, strict=False)
        if isinstance(net, ipaddress.IPv6Network) and net.prefixlen == 128:
            return canonical_ip(str(net.network_address))
        if net.num_addresses == 1:
            return str(net.network_address)
        return str(net)
    addr = ipaddress.ip_address(value)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


@functools.lru_cache(maxsize=8192)
def address_matches(bound: str, client: str | None) -> bool:
    if not client:
        return False
    try:
        addr = canonical_ip(client)
    except ValueError:
        return False
    if addr == bound:
        return True
    if "/" not in bound or "/" in addr:
        return False
    return ipaddress.ip_address(addr) in ipaddress.ip_network(bound)


# -- signing --------------------------------------------------------------------------------
def b64url(data: bytes) -> str:
    text = binascii.b2a_base64(data, newline=False).decode()
    return text.replace("+", "-").replace("/", "_").rstrip("=")


def canonical_string(kid: str, kind: ScopeKind, scope: str, exp: int, ip: str) -> bytes:
    return f"{VERSION}\n{kid}\n{kind}\n{scope}\n{exp}\n{ip}".encode()


def keyed_mac(secret: bytes) -> hmac.HMAC:
    """HMAC-SHA256 keyed with ``secret`` and no message yet: :func:`signed` copies it, so a key
    kept for many URLs has its padded blocks hashed once (RFC 2104 §4), not once per URL."""
    return hmac.new(secret, digestmod="sha256")


def signed(mac: hmac.HMAC, kid: str, kind: ScopeKind, scope: str, exp: int, ip: str) -> bytes:
    """The ``sig`` of a URL (base64url, unpadded, as ASCII bytes): HMAC of the canonical string
    computed on a copy of ``mac`` (:func:`keyed_mac`), which is itself never updated."""
    m = mac.copy()
    m.update(canonical_string(kid, kind, scope, exp, ip))
    return binascii.b2a_base64(m.digest(), newline=False).translate(_TO_URL_SAFE, b"=")


def signature(secret: bytes, kid: str, kind: ScopeKind, scope: str, exp: int, ip: str) -> str:
    return signed(keyed_mac(secret), kid, kind, scope, exp, ip).decode("ascii")


class Grant(NamedTuple):
    """What a signed URL grants: one path or one prefix, until ``exp``, maybe to one address."""

    kind: ScopeKind
    scope: str
    exp: int
    ip: str = ""
    kid: str = ""


def sign(secret: bytes, kid: str, *, kind: ScopeKind, scope: str, exp: int, ip: str = "") -> str:
    """The signed URL's path and query (``/videos/42/?exp=…&prefix=…&kid=…&sig=…``).

    ``scope`` is a decoded path (exact grant) or prefix ending in ``/``; it must be canonical.
    ``ip`` is an address or network, or empty.
    """
    return f"{encode_path(scope)}?{sign_query(secret, kid, kind=kind, scope=scope, exp=exp, ip=ip)}"


def sign_query(
    secret: bytes, kid: str, *, kind: ScopeKind, scope: str, exp: int, ip: str = ""
) -> str:
    """The query parameters of a signed URL, to append to the granted path (or any path under
    the granted prefix)."""
    check_decoded_path(scope)
    if kind == "prefix" and not scope.endswith("/"):
        raise BadPath("a prefix must end with /")
    if KID_RE.fullmatch(kid) is None:
        raise ValueError("bad key id")
    if not 0 <= exp < 10**12:
        raise ValueError("bad expiry")
    ip = canonical_ip(ip) if ip else ""
    sig = signature(secret, kid, kind, scope, exp, ip)
    parts = [f"exp={exp}"]
    if kind == "prefix":
        parts.append("prefix=" + quote(scope, safe="/"))
    if ip:
        parts.append("ip=" + quote(ip, safe="/:"))
    parts += [f"kid={kid}", f"sig={sig}"]
    return "&".join(parts)


# -- verifying ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class UrlVerifyKey:
    """An HMAC secret and, for a retiring key, the time from which it is no longer accepted."""

    kid: str
    secret: bytes = field(repr=False)  # never shown, should a key end up in a log line
    not_after: float | None = None
    mac: hmac.HMAC = field(init=False, repr=False, compare=False)  # keyed_mac(secret)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mac", keyed_mac(self.secret))


def parse_query(query: str) -> dict[str, str]:
    """The signed-URL parameters of a raw query; other parameters are skipped, a repeated
    signed-URL parameter is refused. Values are still percent-encoded."""
    out: dict[str, str] = {}
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name in _PARAMS:
            if name in out:
                raise MalformedUrl(f"repeated parameter {name}")
            out[name] = value
    return out


def verify(
    uri: str,
    keys: Mapping[str, UrlVerifyKey],
    *,
    now: float,
    client_ip: str | None = None,
) -> Grant:
    """Check a signed request URI (path and query, as sent: ``$request_uri``).

    Returns the :class:`Grant` or raises a :class:`SignedUrlError` naming the first failed check.
    """
    if len(uri) > MAX_URI_BYTES:
        raise MalformedUrl("URI too long")
    raw_path, _, query = uri.partition("?")
    return verify_parts(raw_path, query, keys, now, client_ip)


def verify_parts(
    raw_path: str,
    query: str,
    keys: Mapping[str, UrlVerifyKey],
    now: float,
    client_ip: str | None,
) -> Grant:
    """:func:`verify` of a URI no longer than ``MAX_URI_BYTES``, already split at its first
    ``?`` (the edge's path: its caller split it to tell a signed URL from a playback JWT)."""
    params = parse_query(query)
    exp_s, kid, sig = params.get("exp"), params.get("kid"), params.get("sig")
    if exp_s is None or kid is None or sig is None:
        raise MalformedUrl("missing exp, kid or sig")
    if _EXP_RE.fullmatch(exp_s) is None or _SIG_RE.fullmatch(sig) is None:
        raise MalformedUrl("bad exp or sig")
    path = canonical_path(raw_path)
    prefix_raw = params.get("prefix")
    kind: ScopeKind
    if prefix_raw is None:
        kind, scope = "path", path
    else:
        kind = "prefix"
        scope = canonical_path(prefix_raw)
        if not scope.endswith("/"):
            raise MalformedUrl("prefix does not end with /")
        if not path.startswith(scope):
            raise OutOfScope("path is outside the signed prefix")
    ip_raw = params.get("ip")
    ip = ""
    if ip_raw is not None:
        try:
            ip = canonical_ip(ip_raw)
        except ValueError:
            raise MalformedUrl("bad ip") from None
    key = keys.get(kid)
    if key is None or (key.not_after is not None and now >= key.not_after):
        raise UnknownKey("unknown or retired key")
    exp = int(exp_s)
    expected = signed(key.mac, kid, kind, scope, exp, ip)
    if not hmac.compare_digest(expected, sig.encode()):  # sig: 43 ASCII characters (_SIG_RE)
        raise BadSignature("signature does not match")
    if now >= exp:
        raise Expired("URL expired")
    if ip and not address_matches(ip, client_ip):
        raise WrongAddress("client address does not match")
    return _new_tuple(Grant, (kind, scope, exp, ip, kid))
