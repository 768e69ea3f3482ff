"""Flask adapter: a decorator that verifies the access token (Bearer, or DPoP with its proof,
RFC 9449 §7) and puts the claims on ``g``; ``public_url``: the base URL the proofs' ``htu``
name, when the service sits behind a proxy.

@app.get("/things")
@require_token(verifier, scopes=["things:read"])
def things():
    return {"sub": g.gatepass_claims.sub}
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import g, jsonify, request

from gatepass.sdk import errors
from gatepass.sdk.http import error_response, request_url
from gatepass.sdk.verifier import Verifier, require

F = TypeVar("F", bound=Callable[..., Any])


def require_token(
    verifier: Verifier,
    *,
    roles: Iterable[str] = (),
    scopes: Iterable[str] = (),
    public_url: str | None = None,
) -> Callable[[F], F]:
    roles, scopes = tuple(roles), tuple(scopes)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                claims = verifier.verify_request(
                    request.headers.get("Authorization"),
                    method=request.method,
                    url=lambda: request_url(
                        public_url, request.scheme, request.host, request.script_root + request.path
                    ),
                    proofs=request.headers.getlist("DPoP"),
                )
                require(claims, roles=roles, scopes=scopes)
            except errors.VerifierError as exc:
                status, body, headers = error_response(exc, algs=verifier.dpop.algs)
                response = jsonify(body)
                response.status_code = status
                response.headers.update(headers)
                return response
            g.gatepass_claims = claims
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
