"""Flask adapter: a decorator that verifies the bearer token and puts the claims on ``g``.

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
from gatepass.sdk.http import bearer_token, error_response
from gatepass.sdk.verifier import Verifier, require

F = TypeVar("F", bound=Callable[..., Any])


def require_token(
    verifier: Verifier, *, roles: Iterable[str] = (), scopes: Iterable[str] = ()
) -> Callable[[F], F]:
    roles, scopes = tuple(roles), tuple(scopes)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                claims = verifier.verify(bearer_token(request.headers.get("Authorization")))
                require(claims, roles=roles, scopes=scopes)
            except errors.VerifierError as exc:
                status, body, headers = error_response(exc)
                response = jsonify(body)
                response.status_code = status
                response.headers.update(headers)
                return response
            g.gatepass_claims = claims
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
