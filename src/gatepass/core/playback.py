"""Playback JWTs: a CDN token for one video (``/videos/<vid>`` and everything under it).

JWS compact serialisation (RFC 7515) with HS256 under a key derived from the URL-signing key
(``core/url_keys.py``), header ``typ: playback+jwt`` (RFC 8725 §3.11: explicit typing, so an
access token can never pass as one), claims ``iss``, ``sub``, ``aud``, ``vid``, ``exp``, ``iat``
and ``jti``, and optionally ``ip`` (the bound client address or network). ``validate`` checks all
of them; nothing is returned before it has.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gatepass.core import jose
from gatepass.core.jose import VerificationKey
from gatepass.core.signed_url import address_matches, b64url

PLAYBACK_TYP = "playback+jwt"
VIDEO_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
VIDEOS_ROOT = "/videos/"


class PlaybackError(Exception):
    reason = "invalid"


class WrongPlaybackType(PlaybackError):
    reason = "type"


class PlaybackExpired(PlaybackError):
    reason = "expired"


class PlaybackOutOfScope(PlaybackError):
    reason = "scope"


class PlaybackWrongAddress(PlaybackError):
    reason = "address"


@dataclass(frozen=True, slots=True)
class PlaybackClaims:
    vid: str
    sub: str
    exp: int
    ip: str


def video_path(vid: str) -> str:
    return f"{VIDEOS_ROOT}{vid}"


def build_claims(
    *, issuer: str, audience: str, subject: str, vid: str, now: float, ttl: int, ip: str = ""
) -> dict[str, Any]:
    if VIDEO_ID_RE.fullmatch(vid) is None:
        raise ValueError("bad video id")
    iat = int(now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "vid": vid,
        "iat": iat,
        "exp": iat + int(ttl),
        "jti": secrets.token_urlsafe(12),
    }
    if ip:
        claims["ip"] = ip
    return claims


def sign(claims: Mapping[str, Any], kid: str, secret: bytes) -> str:
    header = {"alg": "HS256", "typ": PLAYBACK_TYP, "kid": kid}
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
    sig = b64url(hmac.digest(secret, f"{h}.{p}".encode("ascii"), "sha256"))
    return f"{h}.{p}.{sig}"


def validate(
    header: Mapping[str, Any],
    payload: Mapping[str, Any],
    *,
    issuer: str,
    audience: str,
    now: float,
) -> PlaybackClaims:
    if header.get("typ") != PLAYBACK_TYP:
        raise WrongPlaybackType("not a playback token")
    if payload.get("iss") != issuer:
        raise PlaybackError("wrong issuer")
    aud = payload.get("aud")
    if not (aud == audience or (type(aud) is list and audience in aud)):
        raise PlaybackError("wrong audience")
    exp, iat = payload.get("exp"), payload.get("iat")
    if type(exp) is not int or type(iat) is not int:
        raise PlaybackError("exp and iat must be whole numbers")
    if now >= exp:
        raise PlaybackExpired("playback token expired")
    if iat > now + 30:
        raise PlaybackError("issued in the future")
    vid, sub, ip = payload.get("vid"), payload.get("sub"), payload.get("ip", "")
    if type(vid) is not str or VIDEO_ID_RE.fullmatch(vid) is None:
        raise PlaybackError("bad vid")
    if type(sub) is not str or not sub or type(ip) is not str:
        raise PlaybackError("bad sub or ip")
    return PlaybackClaims(vid=vid, sub=sub, exp=exp, ip=ip)


def verify(
    token: str,
    keys: Mapping[str, tuple[VerificationKey, float | None]],
    *,
    issuer: str,
    audience: str,
    now: float,
    path: str | None = None,
    client_ip: str | None = None,
) -> PlaybackClaims:
    """Signature, type, claims; then, when ``path`` (canonical) is given, that it is the video's
    path or under it, and the bound address. Raises :class:`PlaybackError` or
    :class:`~gatepass.core.jose.JoseError`."""
    live = {
        kid: vk for kid, (vk, not_after) in keys.items() if not_after is None or now < not_after
    }
    header, payload = jose.decode_verified(token, live)
    claims = validate(header, payload, issuer=issuer, audience=audience, now=now)
    if path is not None:
        base = video_path(claims.vid)
        if path != base and not path.startswith(base + "/"):
            raise PlaybackOutOfScope("path is not this video's")
    if claims.ip and not address_matches(claims.ip, client_ip):
        raise PlaybackWrongAddress("client address does not match")
    return claims
