"""The authorization request (RFC 6749 §4.1.1, PKCE RFC 7636 §4.3, OpenID Connect Core 1.0
§3.1.2.1): its parameters checked, and the error responses of RFC 6749 §4.1.2.1 and RFC 9207.

Two kinds of refusal, in this order (RFC 6749 §4.1.2.1, §10.15):

- :class:`PageError`: the client is unknown, or the redirect URI is missing or not one it
  registered. Nothing here may be redirected to (gatepass is no open redirector): the browser
  gets an error page.
- :class:`RedirectError`: anything else. The redirect URI is trusted by then, so the client
  hears of it there: ``error``, ``error_description``, ``state`` and ``iss``.

The hosted pages carry the request's parameters through their forms as they came, and every
POST runs them through :func:`parse` again: nothing a form sends back is trusted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from gatepass.errors import InvalidScope
from gatepass.oauth import redirect_uris, scopes
from gatepass.oauth.services import Services
from gatepass.oauth.token_endpoint import allowed_scopes
from gatepass.storage.models import Client

GRANT = "authorization_code"
# the OpenID Connect scopes (Core §5.4, §11): every client of this grant may ask for them
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
PROMPTS = frozenset({"none", "login", "consent"})
# the parameters carried through the hosted pages' forms (anything else is dropped)
PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
)
_LIMITS = {"state": 2000, "nonce": 512, "login_hint": 150, "max_age": 10, "prompt": 100}
MAX_VALUE = 4000  # any other parameter
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43,128}")  # base64url (RFC 7636 §4.2)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class PageError(Exception):
    """A refusal shown on an error page, never redirected (400)."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class RedirectError(Exception):
    """A refusal sent to the client at its redirect URI (RFC 6749 §4.1.2.1)."""

    def __init__(self, redirect_uri: str, state: str | None, error: str, description: str):
        super().__init__(description)
        self.redirect_uri = redirect_uri
        self.state = state
        self.error = error
        self.description = description

    def location(self, issuer: str) -> str:
        return with_query(
            self.redirect_uri,
            {
                "error": self.error,
                "error_description": self.description,
                "state": self.state,
                "iss": issuer,
            },
        )


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    client: Client
    redirect_uri: str  # exactly as sent (the token request must repeat it)
    state: str | None
    nonce: str | None
    code_challenge: str
    scope: frozenset[str]  # what the client may have of what it asked (before the user's roles)
    prompt: frozenset[str]
    max_age: int | None
    login_hint: str | None
    params: dict[str, str] = field(default_factory=dict)  # to carry through the pages' forms

    def fail(self, error: str, description: str) -> RedirectError:
        return RedirectError(self.redirect_uri, self.state, error, description)

    def location(self, issuer: str, **answer: str | None) -> str:
        """The redirect of a success: ``answer`` (the code), ``state`` and ``iss``."""
        return with_query(self.redirect_uri, {**answer, "state": self.state, "iss": issuer})


def with_query(uri: str, params: dict[str, str | None]) -> str:
    """``uri`` with ``params`` (those not None) added to its query."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return uri + ("&" if urlsplit(uri).query else ("" if uri.endswith("?") else "?")) + query


def collect(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str], set[str]]:
    """The parameters (an empty one counts as absent, RFC 6749 §3.1) and the names repeated."""
    values: dict[str, str] = {}
    repeated: set[str] = set()
    for key, value in pairs:
        if value == "":
            continue
        if key in values:
            repeated.add(key)
            continue
        values[key] = value
    return values, repeated


async def parse(svc: Services, pairs: Iterable[tuple[str, str]]) -> AuthorizationRequest:
    values, repeated = collect(pairs)
    client, redirect_uri = await _client_and_redirect(svc, values, repeated)
    state = values.get("state")
    if state is not None and (len(state) > _LIMITS["state"] or "\x00" in state):
        state = None  # not echoed: the request is refused below

    def fail(error: str, description: str) -> RedirectError:
        return RedirectError(redirect_uri, state, error, description)

    if repeated:
        raise fail("invalid_request", f"The parameter {sorted(repeated)[0][:40]!r} is repeated.")
    for name, value in values.items():
        limit = _LIMITS.get(name, MAX_VALUE)
        if len(value) > limit:
            raise fail("invalid_request", f"{name[:40]} is longer than {limit} characters.")
        if _CONTROL.search(value):
            raise fail("invalid_request", f"{name[:40]} holds a control character.")
    if "request" in values:
        raise fail("request_not_supported", "Request objects are not supported.")
    if "request_uri" in values:
        raise fail("request_uri_not_supported", "request_uri is not supported.")
    response_type = values.get("response_type")
    if response_type is None:
        raise fail("invalid_request", "response_type is required.")
    if response_type != "code":
        raise fail("unsupported_response_type", "Only response_type=code is supported.")
    if GRANT not in (client.grants or []):
        raise fail("unauthorized_client", "This client may not use the authorization code flow.")
    challenge = values.get("code_challenge")
    method = values.get("code_challenge_method")
    if challenge is None:
        raise fail("invalid_request", "code_challenge is required (PKCE, RFC 7636).")
    if method != "S256":
        raise fail("invalid_request", "code_challenge_method must be S256.")
    if _CHALLENGE.fullmatch(challenge) is None:
        raise fail("invalid_request", "code_challenge must be 43-128 base64url characters.")
    prompt = frozenset((values.get("prompt") or "").split())
    if prompt - PROMPTS:
        raise fail("invalid_request", "prompt may hold only none, login and consent.")
    if "none" in prompt and len(prompt) > 1:
        raise fail("invalid_request", "prompt=none may not be combined with other values.")
    max_age = values.get("max_age")
    if max_age is not None and not (max_age.isascii() and max_age.isdigit()):
        raise fail("invalid_request", "max_age must be a number of seconds.")
    base = allowed_scopes(svc, client)
    try:
        requested = scopes.parse(values.get("scope"))
        # asked for nothing: the client's own default scopes, as at the token endpoint
        granted = scopes.grant(requested, base if requested is None else base | OIDC_SCOPES)
    except InvalidScope as exc:
        raise fail("invalid_scope", exc.description) from None
    return AuthorizationRequest(
        client=client,
        redirect_uri=redirect_uri,
        state=state,
        nonce=values.get("nonce"),
        code_challenge=challenge,
        scope=granted,
        prompt=prompt,
        max_age=int(max_age) if max_age is not None else None,
        login_hint=values.get("login_hint"),
        params={k: values[k] for k in PARAMETERS if k in values},
    )


async def _client_and_redirect(
    svc: Services, values: dict[str, str], repeated: set[str]
) -> tuple[Client, str]:
    if "client_id" in repeated or "redirect_uri" in repeated:
        raise PageError("The request names more than one client or redirect URI.")
    client_id = values.get("client_id")
    if client_id is None:
        raise PageError("The request does not say which application is asking (client_id).")
    client = None
    if len(client_id) <= 64 and _CONTROL.search(client_id) is None:
        client = await svc.clients.cached(client_id)
    if client is None:
        raise PageError("The application that sent you here is not known to this server.")
    redirect_uri = values.get("redirect_uri")
    if redirect_uri is None:
        raise PageError("The request has no redirect URI.")
    if len(redirect_uri) > redirect_uris.MAX_URI or not redirect_uris.matches(
        client.redirect_uris or [], redirect_uri
    ):
        raise PageError("The redirect URI is not one this application registered.")
    return client, redirect_uri
