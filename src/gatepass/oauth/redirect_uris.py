"""Redirect URIs of the authorization code flow: what a client may register, and whether a
request's ``redirect_uri`` is one of them.

- Registration (RFC 6749 §3.1.2, RFC 8252 §7, OAuth 2.0 Security BCP RFC 9700 §4.1): an
  absolute URI without fragment or userinfo; ``https``, or ``http`` on a loopback host only;
  a private-use scheme (reverse domain name, RFC 8252 §7.1: ``com.example.app:/cb``) only for a
  public client, which is what a native app is.
- Matching (RFC 9700 §4.1.3): character for character, with one exception, RFC 8252 §7.3: a
  loopback IP literal (``http://127.0.0.1`` or ``http://[::1]``) matches on any port, because a
  native app gets its port from the operating system at run time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from gatepass.errors import InvalidRequest

MAX_URI = 2000
MAX_URIS = 20
LOOPBACK_HOSTS = ("127.0.0.1", "[::1]", "localhost")
_LOOPBACK_LITERALS = ("127.0.0.1", "[::1]")  # the hosts whose port may vary (RFC 8252 §7.3)
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_PORT = re.compile(r"[1-9][0-9]{0,4}")


def check_registration(
    uris: Iterable[str], *, public: bool, what: str = "redirect URI"
) -> list[str]:
    """The URIs, each checked; :class:`InvalidRequest` naming the first one refused."""
    out: list[str] = []
    for uri in uris:
        problem = _problem(uri, public=public)
        if problem is not None:
            shown = uri if len(uri) <= 100 and uri.isprintable() else "a " + what
            raise InvalidRequest(f"{what} {shown!r} refused: {problem}.")
        if uri not in out:
            out.append(uri)
    if len(out) > MAX_URIS:
        raise InvalidRequest(f"At most {MAX_URIS} of each kind of redirect URI.")
    return out


def _problem(uri: str, *, public: bool) -> str | None:
    if not isinstance(uri, str) or not uri:
        return "empty"
    if len(uri) > MAX_URI:
        return f"longer than {MAX_URI} characters"
    if not uri.isprintable() or any(c.isspace() for c in uri):
        return "control characters or spaces"
    scheme, sep, _ = uri.partition(":")
    if not sep or _SCHEME.fullmatch(scheme) is None:
        return "not an absolute URI (lower-case scheme first)"
    if "#" in uri:
        return "a fragment is not allowed (RFC 6749 §3.1.2)"
    parts = urlsplit(uri)
    if scheme in ("https", "http"):
        if not parts.netloc or parts.hostname is None:
            return "no host"
        if "@" in parts.netloc:
            return "user information is not allowed"
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            return "bad port"
        if scheme == "http" and _host(parts.netloc) not in LOOPBACK_HOSTS:
            return "http is allowed only on a loopback host; use https"
        return None
    if "." not in scheme:
        return "a private-use scheme must be a reverse domain name (RFC 8252 §7.1)"
    if not public:
        return "private-use schemes are for public (native) clients only"
    if parts.netloc and "@" in parts.netloc:
        return "user information is not allowed"
    return None


def _host(netloc: str) -> str:
    """The host of ``netloc`` as written (``[::1]`` keeps its brackets), without the port."""
    if netloc.startswith("["):
        end = netloc.find("]")
        return netloc[: end + 1] if end > 0 else netloc
    return netloc.rsplit(":", 1)[0] if ":" in netloc else netloc


def _without_loopback_port(uri: str) -> str | None:
    """``uri`` with its port removed when it is an http loopback IP literal with a valid port
    (or none); None when it is not such a URI."""
    prefix = "http://"
    if not uri.startswith(prefix):
        return None
    rest = uri[len(prefix) :]
    for host in _LOOPBACK_LITERALS:
        if rest.startswith(host):
            tail = rest[len(host) :]
            if tail.startswith(":"):
                digits = re.match(r":([0-9]*)", tail)
                port = digits.group(1) if digits else ""
                if _PORT.fullmatch(port) is None or int(port) > 65535:
                    return None
                tail = tail[1 + len(port) :]
            if tail and tail[0] not in "/?":
                return None
            return prefix + host + tail
    return None


def matches(registered: Iterable[str], presented: str) -> bool:
    """Whether ``presented`` is one of ``registered`` (exact, or RFC 8252 §7.3 loopback)."""
    listed = list(registered)
    if presented in listed:
        return True
    bare = _without_loopback_port(presented)
    if bare is None:
        return False
    return any(_without_loopback_port(r) == bare for r in listed)
