"""RFC 9068 JWT access tokens: the claims gatepass puts in them and the checks every decode runs.

``validate`` is total: iss, aud, exp, nbf and iat are always checked, ``typ`` must be
``at+jwt`` (RFC 9068 §2.1, §4), and the required claims of §2.2 must be present with the right
types. Nothing is returned before all of it has passed.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from gatepass.core import rfc9449

ACCESS_TOKEN_TYP = "at+jwt"
_TYP_ACCEPTED = frozenset({"at+jwt", "application/at+jwt"})
_INFINITIES = (math.inf, -math.inf)


class ClaimError(Exception):
    """A claim check failed; ``reason`` is a short machine word, the message is safe to show."""

    reason = "invalid"


class ExpiredClaim(ClaimError):
    reason = "expired"


class NotYetValidClaim(ClaimError):
    reason = "not_yet_valid"


class WrongIssuer(ClaimError):
    reason = "issuer"


class WrongAudience(ClaimError):
    reason = "audience"


class WrongType(ClaimError):
    reason = "type"


class AccessClaims(NamedTuple):
    """The validated claims of an access token: immutable, compared and hashed as a dataclass
    with ``raw`` left out (``compare=False``) would be. A tuple underneath, so that the
    Verifier builds one in a single step on every cache miss."""

    sub: str
    iss: str
    aud: tuple[str, ...]
    exp: int
    iat: int
    nbf: int | None
    jti: str
    client_id: str
    scope: frozenset[str]
    roles: frozenset[str]
    sid: str | None
    raw: Mapping[str, Any]
    jkt: str | None = None  # RFC 9449 §6.1 cnf.jkt: the DPoP key this token is bound to

    @property
    def scope_str(self) -> str:
        return " ".join(sorted(self.scope))

    def _compared(self) -> tuple[Any, ...]:
        return self[:11] + self[12:]  # every field but raw

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:  # never equal to a plain tuple
            return False if isinstance(other, tuple) else NotImplemented
        return self._compared() == other._compared()

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash(self._compared())

    def __repr__(self) -> str:
        fields = zip(self._fields, self, strict=True)
        shown = ", ".join(f"{n}={v!r}" for n, v in fields if n != "raw")
        return f"AccessClaims({shown})"


_new_tuple = tuple.__new__


def build_claims(
    *,
    issuer: str,
    subject: str,
    audience: str | Iterable[str],
    client_id: str,
    scope: Iterable[str],
    roles: Iterable[str],
    now: float,
    ttl: int,
    sid: str | None,
    jti: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    iat = int(now)
    aud: str | list[str] = audience if isinstance(audience, str) else list(audience)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": aud,
        "exp": iat + int(ttl),
        "iat": iat,
        "nbf": iat,
        "jti": jti or secrets.token_urlsafe(16),
        "client_id": client_id,
        "scope": " ".join(sorted(set(scope))),
        "roles": sorted(set(roles)),
    }
    if sid is not None:
        claims["sid"] = sid
    if extra:
        for k, v in extra.items():
            claims.setdefault(k, v)
    return claims


def _num(payload: Mapping[str, Any], name: str, required: bool) -> int | None:
    v = payload.get(name)
    if type(v) is int:
        return v
    if v is None and name not in payload:  # present but null is not a number (below)
        if required:
            raise ClaimError(f"missing claim: {name}")
        return None
    if type(v) is not float or v != v or v in _INFINITIES:
        raise ClaimError(f"claim {name} is not a number")
    return int(v)


def _is_str_list(v: Any) -> bool:
    if type(v) is not list:
        return False
    for item in v:
        if type(item) is not str:
            return False
    return True


def validate(
    header: Mapping[str, Any],
    payload: Mapping[str, Any],
    *,
    issuer: str,
    audience: str | frozenset[str] | None,
    now: float,
    leeway: int,
    typ: frozenset[str] = _TYP_ACCEPTED,
) -> AccessClaims:
    """``audience=None`` accepts any well-formed ``aud``: only for the issuer itself, judging
    tokens it issued for its clients' APIs (introspection, revocation); a resource server always
    names its audience."""
    return checked(header, payload, issuer, audience, now, leeway, typ)


def checked(
    header: Mapping[str, Any],
    payload: Mapping[str, Any],
    issuer: str,
    audience: str | frozenset[str] | None,
    now: float,
    leeway: int,
    typ: frozenset[str] = _TYP_ACCEPTED,
) -> AccessClaims:
    """:func:`validate` with positional arguments (the Verifier's hot path): the same checks in
    the same order, with the common case of each (an int time, a string claim) inline."""
    t = header.get("typ")
    if type(t) is not str or (t not in typ and t.lower() not in typ):
        raise WrongType("token type is not at+jwt")
    get = payload.get
    if get("iss") != issuer:
        raise WrongIssuer("wrong issuer")
    aud_raw = get("aud")
    if type(aud_raw) is str:
        aud: tuple[str, ...] = (aud_raw,)
    elif _is_str_list(aud_raw) and aud_raw:
        aud = tuple(aud_raw)
    else:
        raise WrongAudience("missing or invalid audience")
    if audience is not None and not (
        audience in aud if isinstance(audience, str) else any(a in audience for a in aud)
    ):
        raise WrongAudience("wrong audience")
    exp = get("exp")
    if type(exp) is not int:
        exp = _num(payload, "exp", True)
    iat = get("iat")
    if type(iat) is not int:
        iat = _num(payload, "iat", True)
    nbf = get("nbf")
    if type(nbf) is not int:
        nbf = _num(payload, "nbf", False)
    if exp is None or now >= exp + leeway:  # RFC 7519 §4.1.4: on or after exp is expired
        raise ExpiredClaim("token expired")
    if nbf is not None and now + leeway < nbf:
        raise NotYetValidClaim("token not yet valid")
    if iat is None or now + leeway < iat:
        raise NotYetValidClaim("token issued in the future")
    sub = get("sub")
    if type(sub) is not str or not sub:
        raise ClaimError("missing or invalid claim: sub")
    jti = get("jti")
    if type(jti) is not str or not jti:
        raise ClaimError("missing or invalid claim: jti")
    client_id = get("client_id")
    if type(client_id) is not str or not client_id:
        raise ClaimError("missing or invalid claim: client_id")
    scope_raw = get("scope", "")
    if type(scope_raw) is not str:
        raise ClaimError("claim scope is not a string")
    roles_raw = get("roles", [])
    if not _is_str_list(roles_raw):
        raise ClaimError("claim roles is not a list of strings")
    sid = get("sid")
    if sid is not None and (type(sid) is not str or not sid):
        raise ClaimError("missing or invalid claim: sid")
    jkt = None
    if "cnf" in payload:
        try:
            jkt = rfc9449.binding(payload)
        except ValueError:
            raise ClaimError("claim cnf is not a DPoP key binding") from None
    return _new_tuple(
        AccessClaims,
        (
            sub,
            issuer,
            aud,
            exp,
            iat,
            nbf,
            jti,
            client_id,
            frozenset(scope_raw.split()),
            frozenset(roles_raw),
            sid,
            payload,
            jkt,
        ),
    )
