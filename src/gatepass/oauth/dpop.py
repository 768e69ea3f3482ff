"""DPoP at the token endpoint (RFC 9449 §5): which key a token request binds its tokens to.

:func:`token_binding` is the one call every grant that issues tokens makes (password,
refresh_token, client_credentials, authorization_code): it checks the request's proof with the
same checks as the SDK (``core/rfc9449.py`` through ``sdk/dpop.py``), its ``jti`` against the
replay cache (Redis when configured, so every instance shares it), and the client's
``dpop_bound_access_tokens``. Errors are §5 / §8's: ``invalid_dpop_proof`` and
``use_dpop_nonce`` (with a ``DPoP-Nonce`` header), 400; a replay cache that cannot answer is
503, never a pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gatepass.core import rfc9449
from gatepass.errors import InvalidDpopProof, ServiceUnavailable, UseDpopNonce
from gatepass.oauth.services import Services
from gatepass.sdk import errors as sdk_errors
from gatepass.storage.models import Client


@dataclass(frozen=True, slots=True)
class DpopRequest:
    """What the token endpoint needs of the HTTP request to judge its proof."""

    proofs: Sequence[str]  # every DPoP header field value (exactly one is allowed)
    method: str
    url: str  # the endpoint's public URL (rfc9449.request_url of the issuer and the path)

    @classmethod
    def of(cls, proofs: Sequence[str], method: str, issuer: str, path: str) -> DpopRequest | None:
        """None without a proof. The URL is the issuer's origin and prefix plus the path, never
        what the Host header says: behind a proxy, the issuer is the URL clients were given
        (§4.3)."""
        if not proofs:
            return None
        return cls(tuple(proofs), method, rfc9449.request_url(issuer, path))


async def token_binding(
    svc: Services, client: Client | None, request: DpopRequest | None
) -> str | None:
    """The thumbprint of the key this token request's tokens are bound to, or None (no proof,
    and the client does not require one)."""
    if request is None or not request.proofs:
        if client is not None and client.dpop_bound_access_tokens:
            raise InvalidDpopProof("This client must send a DPoP proof with every token request.")
        return None
    try:
        proof = await svc.dpop.acheck(request.proofs, method=request.method, url=request.url)
    except sdk_errors.UseDpopNonce as exc:
        raise UseDpopNonce(nonce=exc.nonce) from None
    except sdk_errors.InvalidDpopProof as exc:
        raise InvalidDpopProof(f"The DPoP proof is invalid: {exc}.") from None
    except sdk_errors.ReplayCacheUnavailable:
        raise ServiceUnavailable("DPoP proofs cannot be checked right now.") from None
    return proof.jkt


def refreshes_bound(client: Client | None) -> bool:
    """§5: a public client's refresh tokens are bound to its DPoP key (a confidential client's
    are bound to its authentication already). No client named: the first-party public one."""
    return client is None or client.public
