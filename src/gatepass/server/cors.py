"""CORS (the Fetch standard's CORS protocol) for the endpoints a browser app on another origin
calls, decided by path in one table, :func:`policy_for`:

* ``/auth/``: the cookie endpoints. Origins in ``GATEPASS_ALLOWED_ORIGINS`` only, with
  credentials (the refresh cookie). The origin and custom-header checks themselves are in
  ``routes/auth.py``.
* ``POST /oauth/token``, ``POST /oauth/revoke``, ``GET|POST /oauth/userinfo``: origins in
  ``GATEPASS_ALLOWED_ORIGINS`` only, *never* with credentials (no cookie reaches these), the
  ``Authorization`` and ``DPoP`` request headers allowed, ``DPoP-Nonce`` and
  ``WWW-Authenticate`` exposed to the page's script (RFC 9449 §8, §7.1).
* ``GET /.well-known/*``: public metadata and keys, any origin (``*``), no credentials.

A preflight (``OPTIONS`` with an ``Origin``) on one of these paths is answered here: 204 with
the policy's headers for an allowed origin, 403 without any CORS header otherwise. Other
requests go through; an allowed origin's answer gets ``Access-Control-Allow-Origin``, anyone
else's none (the browser then keeps the answer from the page). Nothing for any other path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True, slots=True)
class Policy:
    methods: bytes
    allow_headers: bytes
    expose_headers: bytes = b""
    credentials: bool = False
    any_origin: bool = False


SESSION = Policy(
    b"GET, POST, DELETE", b"authorization, content-type, x-requested-with", credentials=True
)
_OAUTH_HEADERS = b"authorization, content-type, dpop"
_OAUTH_EXPOSE = b"dpop-nonce, www-authenticate"
OAUTH = {
    "/oauth/token": Policy(b"POST", _OAUTH_HEADERS, _OAUTH_EXPOSE),
    "/oauth/revoke": Policy(b"POST", _OAUTH_HEADERS, _OAUTH_EXPOSE),
    "/oauth/userinfo": Policy(b"GET, POST", _OAUTH_HEADERS, _OAUTH_EXPOSE),
}
PUBLIC = Policy(b"GET", b"", any_origin=True)


def policy_for(path: str) -> Policy | None:
    """The CORS policy of a path, or None: no CORS answer at all."""
    if path.startswith("/auth/"):
        return SESSION
    if path.startswith("/.well-known/"):
        return PUBLIC
    return OAUTH.get(path)


class Cors:
    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        self.origins = frozenset(o.encode() for o in origins)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        policy = policy_for(scope["path"]) if scope["type"] == "http" else None
        origin = None
        if policy is not None:
            for k, v in scope["headers"]:
                if k == b"origin":
                    origin = v
                    break
        if policy is None or origin is None:  # passed on without a coroutine of this layer's
            return self.app(scope, receive, send)
        return self._answer(scope, receive, send, policy, origin)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, policy: Policy, origin: bytes
    ) -> None:
        allowed = policy.any_origin or origin in self.origins
        if scope["method"] == "OPTIONS":
            headers = [(b"content-length", b"0")]
            if allowed:
                headers += _allow(policy, origin)
                headers += [(b"access-control-allow-methods", policy.methods)]
                if policy.allow_headers:
                    headers += [(b"access-control-allow-headers", policy.allow_headers)]
                headers += [(b"access-control-max-age", b"600")]
            elif not policy.any_origin:
                headers += [(b"vary", b"Origin")]
            status = 204 if allowed else 403
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and allowed:
                headers: list[Any] = list(message.get("headers", []))
                headers += _allow(policy, origin)
                if policy.expose_headers:
                    headers += [(b"access-control-expose-headers", policy.expose_headers)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cors)


def _allow(policy: Policy, origin: bytes) -> list[tuple[bytes, bytes]]:
    if policy.any_origin:
        return [(b"access-control-allow-origin", b"*")]
    out = [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
    if policy.credentials:
        out.append((b"access-control-allow-credentials", b"true"))
    return out
