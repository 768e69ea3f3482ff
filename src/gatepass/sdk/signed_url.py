"""The signed-URL verifier for edge workers: the same check as gatepass's ``GET /edge/verify``.

    from gatepass.sdk.signed_url import SignedUrlVerifier, verify_signed_url

    ok = verify_signed_url(request_uri, {"3f9ac0d2e1b4": secret}, client_ip=addr)   # bool

    edge = SignedUrlVerifier({"3f9ac0d2e1b4": secret}, issuer="https://auth.example")
    edge.check(request_uri, client_ip=addr)      # bool: an HMAC signed URL or a playback JWT

Pure and synchronous: no I/O, keys in memory. ``request_uri`` is the path and query as the client
sent them (nginx ``$request_uri``), still percent-encoded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from gatepass.core import jose, playback
from gatepass.core import signed_url as su
from gatepass.core.jose import VerificationKey
from gatepass.core.playback import PlaybackClaims, PlaybackError
from gatepass.core.signed_url import Grant, SignedUrlError, UrlVerifyKey
from gatepass.core.url_keys import playback_secret

__all__ = [
    "Grant",
    "PlaybackClaims",
    "SignedUrlError",
    "SignedUrlVerifier",
    "UrlVerifyKey",
    "verify_signed_url",
]

KeysArg = Mapping[str, bytes] | Mapping[str, UrlVerifyKey]


def _url_keys(keys: KeysArg) -> dict[str, UrlVerifyKey]:
    out: dict[str, UrlVerifyKey] = {}
    for kid, k in keys.items():
        out[kid] = k if isinstance(k, UrlVerifyKey) else UrlVerifyKey(kid, bytes(k))
    return out


def verify_signed_url(
    uri: str, keys: KeysArg, *, client_ip: str | None = None, now: float | None = None
) -> bool:
    """True when ``uri`` is a valid HMAC signed URL under one of ``keys`` (kid -> secret)."""
    try:
        su.verify(
            uri,
            _url_keys(keys),
            now=time.time() if now is None else now,
            client_ip=client_ip,
        )
    except SignedUrlError:
        return False
    return True


class SignedUrlVerifier:
    """Keys in memory; :meth:`check` answers an edge request without any I/O.

    HMAC signed URLs (``sig`` parameter) and, when ``issuer`` is given, playback JWTs (``token``
    parameter, verified with the key derived from the same URL keys) are accepted.
    """

    def __init__(
        self,
        keys: KeysArg | None = None,
        *,
        issuer: str | None = None,
        playback_audience: str = "gatepass-playback",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.playback_audience = playback_audience
        self._clock = clock
        self._keys: dict[str, UrlVerifyKey] = {}
        self._playback: dict[str, tuple[VerificationKey, float | None]] = {}
        self.set_keys(keys or {})

    def set_keys(self, keys: KeysArg) -> None:
        """Replace the key set (after a rotation)."""
        url_keys = _url_keys(keys)
        self._playback = {
            kid: (VerificationKey(kid, "HS256", playback_secret(k.secret)), k.not_after)
            for kid, k in url_keys.items()
        }
        self._keys = url_keys

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def verify(self, uri: str, client_ip: str | None = None) -> Grant | PlaybackClaims:
        """The grant a request URI carries; raises :class:`SignedUrlError` or
        :class:`~gatepass.core.playback.PlaybackError` (or a JOSE error for a bad JWT)."""
        if len(uri) > su.MAX_URI_BYTES:
            raise su.MalformedUrl("URI too long")
        raw_path, _, query = uri.partition("?")
        if query.startswith("sig=") or "&sig=" in query:
            return su.verify_parts(raw_path, query, self._keys, self._clock(), client_ip)
        if (query.startswith("token=") or "&token=" in query) and self.issuer is not None:
            return self._verify_playback(raw_path, query, client_ip)
        raise su.MalformedUrl("no signature")

    def check(self, uri: str | None, client_ip: str | None = None) -> bool:
        """True to let the request through, False to refuse it. Never raises on bad input."""
        if not uri:
            return False
        try:
            self.verify(uri, client_ip)
        except (SignedUrlError, PlaybackError, jose.JoseError):
            return False
        return True

    def _verify_playback(self, raw_path: str, query: str, client_ip: str | None) -> PlaybackClaims:
        token = None
        for part in query.split("&"):
            name, _, value = part.partition("=")
            if name == "token":
                if token is not None:
                    raise su.MalformedUrl("repeated parameter token")
                token = value
        if not token:
            raise su.MalformedUrl("no token")
        path = su.canonical_path(raw_path)
        return playback.verify(
            token,
            self._playback,
            issuer=self.issuer or "",
            audience=self.playback_audience,
            now=self._clock(),
            path=path,
            client_ip=client_ip,
        )
