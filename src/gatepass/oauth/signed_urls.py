"""Signed URLs: the URL-key manager (keys in memory, reloaded, rotated) and issuing URLs.

Three formats: ``hmac`` (gatepass's own, path or prefix, see ``core/signed_url.py``), ``jwt`` (a
playback JWT for one video, ``core/playback.py``) and ``nginx`` (``secure_link_md5``, checked by
nginx alone: exact path only, keyed MD5, one static secret).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Literal

from gatepass.clock import Clock
from gatepass.core import playback
from gatepass.core import signed_url as su
from gatepass.core.access_token import AccessClaims
from gatepass.core.url_keys import UrlKeyRing, playback_secret
from gatepass.errors import InsufficientScope, InvalidRequest
from gatepass.sdk.signed_url import SignedUrlVerifier
from gatepass.settings import Settings
from gatepass.storage.models import UrlSigningKeyRow
from gatepass.storage.url_keys import UrlKeyStore
from gatepass.storage.users import Users

log = logging.getLogger(__name__)
SUBJECT_MAX_LEN = 36  # a user id (``users.id``)

Format = Literal["hmac", "jwt", "nginx"]


class UrlKeyManager:
    """The URL keys in force, pushed into every attached edge verifier."""

    def __init__(self, store: UrlKeyStore, settings: Settings, clock: Clock) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self.ring = UrlKeyRing(())
        self._verifiers: list[SignedUrlVerifier] = []
        self._lock = asyncio.Lock()

    @property
    def retire_after(self) -> float:
        """How long a retired key is still accepted: the longest URL lifetime, plus the time a
        rotation takes to reach every instance, plus a margin."""
        s = self._settings
        return s.signed_url_max_ttl + s.key_refresh_interval + 60

    def attach(self, verifier: SignedUrlVerifier) -> None:
        self._verifiers.append(verifier)
        verifier.set_keys(self.ring.verify_keys(self._clock.now()))

    async def start(self) -> None:
        self._install(
            await self._store.ensure(now=self._clock.now(), retire_after=self.retire_after)
        )

    async def reload(self) -> None:
        ring = await self._store.load()
        if ring.fingerprint() != self.ring.fingerprint():
            self._install(ring)
        else:  # drop keys whose time has passed even when nothing changed in storage
            self._push()

    async def rotate(self) -> UrlKeyRing:
        async with self._lock:
            ring = await self._store.rotate(now=self._clock.now(), retire_after=self.retire_after)
            self._install(ring)
            return ring

    async def rows(self) -> list[UrlSigningKeyRow]:
        return await self._store.all_rows()

    def _install(self, ring: UrlKeyRing) -> None:
        self.ring = ring
        self._push()

    def _push(self) -> None:
        keys = self.ring.verify_keys(self._clock.now())
        for v in self._verifiers:
            v.set_keys(keys)


@dataclass(frozen=True, slots=True)
class SignedUrl:
    url: str
    expires_at: int
    query: str | None = None  # for a prefix grant: the parameters to append under the prefix

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self.url, "expires_at": self.expires_at}
        if self.query is not None:
            out["query"] = self.query
        return out


def may_sign(settings: Settings, claims: AccessClaims) -> None:
    """Raise :class:`InsufficientScope` unless the caller has the signing role or scope."""
    role, scope = settings.signed_url_role, settings.signed_url_scope
    if (role and role in claims.roles) or (scope and scope in claims.scope):
        return
    raise InsufficientScope("Signing URLs needs the signing role or scope.", scope=scope)


async def signing_subject(
    settings: Settings, users: Users, claims: AccessClaims, subject: str | None
) -> str:
    """Who a URL is for: the caller, or the viewer an app's backend names with ``subject``.

    Naming a subject needs the signing *scope* (``GATEPASS_SIGNED_URL_SCOPE``, granted to an
    app's backend through ``client_credentials``), not merely the signing role: the backend knows
    the entitlements and signs on behalf of one of its viewers, so the playback JWT's ``sub`` is
    that viewer. The subject must be the id of an existing, enabled user. Call after
    :func:`may_sign`.
    """
    if subject is None:
        return claims.sub
    scope = settings.signed_url_scope
    if not scope or scope not in claims.scope:
        raise InsufficientScope(
            "Signing for another subject needs the signing scope.", scope=scope
        )
    user = await users.by_id(subject) if 0 < len(subject) <= SUBJECT_MAX_LEN else None
    if user is None or user.disabled:
        raise InvalidRequest("subject must be the id of an existing user.")
    return subject


def record_issued(claims: AccessClaims, subject: str, grant: str, result: SignedUrl) -> None:
    """The record of a signed URL: who asked, who it is for, what it covers, until when."""
    log.info(
        "signed url issued",
        extra={
            "caller": claims.sub,
            "client_id": claims.client_id,
            "subject": subject,
            "grant": grant,
            "expires_at": result.expires_at,
        },
    )


def _ttl(settings: Settings, expires_in: int | None, default: int) -> int:
    ttl = default if expires_in is None else expires_in
    if not 1 <= ttl <= settings.signed_url_max_ttl:
        raise InvalidRequest(
            f"expires_in must be between 1 and {settings.signed_url_max_ttl} seconds."
        )
    return ttl


def _bind(bind_ip: str | None) -> str:
    if not bind_ip:
        return ""
    if "%" in bind_ip:
        raise InvalidRequest(
            "bind_ip may not carry an IPv6 zone id (the part from %): a zone names an interface "
            "of one host, not an address a signed URL can be bound to."
        )
    try:
        return su.canonical_ip(bind_ip)
    except ValueError:
        raise InvalidRequest("bind_ip must be an IP address or network.") from None


def sign_url(
    settings: Settings,
    keys: UrlKeyManager,
    now: float,
    *,
    scope: str,
    prefix: bool,
    expires_in: int | None = None,
    bind_ip: str | None = None,
    fmt: Format = "hmac",
) -> SignedUrl:
    """An HMAC (or nginx ``secure_link``) signed URL for one path or one prefix."""
    ttl = _ttl(settings, expires_in, settings.signed_url_ttl)
    try:
        su.check_decoded_path(scope)
    except su.BadPath:
        raise InvalidRequest(
            "The path must start with / and have no empty, '.' or '..' segment, backslash, "
            "percent sign or control character."
        ) from None
    if prefix and not scope.endswith("/"):
        raise InvalidRequest("A prefix must end with /.")
    exp = int(now) + ttl
    ip = _bind(bind_ip)
    base = settings.signed_url_base
    if fmt == "nginx":
        return _secure_link(settings, scope=scope, prefix=prefix, exp=exp, ip=ip)
    key = keys.ring.active()
    kind: su.ScopeKind = "prefix" if prefix else "path"
    query = su.sign_query(key.secret, key.kid, kind=kind, scope=scope, exp=exp, ip=ip)
    url = f"{base}{su.encode_path(scope)}?{query}"
    return SignedUrl(url, exp, query if prefix else None)


def secure_link_md5(secret: str, path: str, exp: int) -> str:
    """nginx ``secure_link_md5 "$secure_link_expires$uri <secret>"``: base64url MD5, unpadded."""
    digest = hashlib.md5(f"{exp}{path} {secret}".encode(), usedforsecurity=False).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _secure_link(settings: Settings, *, scope: str, prefix: bool, exp: int, ip: str) -> SignedUrl:
    if settings.secure_link_secret is None:
        raise InvalidRequest("The nginx format is off: GATEPASS_SECURE_LINK_SECRET is not set.")
    if prefix or ip:
        raise InvalidRequest("The nginx format covers one exact path, without bind_ip.")
    md5 = secure_link_md5(settings.secure_link_secret.get_secret_value(), scope, exp)
    url = f"{settings.signed_url_base}{su.encode_path(scope)}?md5={md5}&expires={exp}"
    return SignedUrl(url, exp)


def sign_playback(
    settings: Settings,
    keys: UrlKeyManager,
    now: float,
    *,
    subject: str,
    video_id: str,
    expires_in: int | None = None,
    bind_ip: str | None = None,
) -> SignedUrl:
    """``<base>/videos/<id>?token=<playback JWT>``."""
    if playback.VIDEO_ID_RE.fullmatch(video_id) is None:
        raise InvalidRequest("video_id must be 1 to 128 letters, digits, '-' or '_'.")
    ttl = _ttl(settings, expires_in, settings.playback_ttl)
    claims = playback.build_claims(
        issuer=settings.issuer,
        audience=settings.playback_audience,
        subject=subject,
        vid=video_id,
        now=now,
        ttl=ttl,
        ip=_bind(bind_ip),
    )
    key = keys.ring.active()
    token = playback.sign(claims, key.kid, playback_secret(key.secret))
    url = f"{settings.signed_url_base}{playback.video_path(video_id)}?token={token}"
    return SignedUrl(url, int(claims["exp"]))
