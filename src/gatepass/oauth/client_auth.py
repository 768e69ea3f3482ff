"""Client authentication at the token endpoint (RFC 6749 §2.3.1): HTTP Basic or form body.

Secrets are compared as SHA-256 digests in constant time; an unknown client costs the same.
Client records come from the registry's short-lived cache (:meth:`Clients.cached`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from gatepass.core import opaque
from gatepass.errors import InvalidClient, InvalidRequest
from gatepass.oauth.first_party import FIRST_PARTY_CLIENT_ID, first_party_client
from gatepass.storage.clients import Clients
from gatepass.storage.models import Client

_DUMMY_DIGEST = opaque.digest("gps_unknown-client")


@dataclass(frozen=True, slots=True)
class Presented:
    client_id: str | None
    secret: str | None
    method: str  # client_secret_basic | client_secret_post | none


def presented_credentials(authorization: str | None, form: Mapping[str, str]) -> Presented:
    basic = None
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() == "basic":  # a bare "Basic" is malformed too, not absent
        try:
            raw = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except ValueError:  # binascii.Error, UnicodeDecodeError, or non-ASCII header text
            raise InvalidClient("Malformed HTTP Basic credentials.") from None
        cid, sep, secret = raw.partition(":")
        # RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding
        cid, secret = unquote(cid), unquote(secret)
        if not sep or "\x00" in cid or "\x00" in secret:
            raise InvalidClient("Malformed HTTP Basic credentials.")
        basic = Presented(cid, secret, "client_secret_basic")
    in_form = form.get("client_secret")
    if basic is not None:
        if in_form is not None:
            raise InvalidRequest("Use one client authentication method, not two.")
        if form.get("client_id") not in (None, basic.client_id):
            raise InvalidRequest("client_id does not match the authenticated client.")
        return basic
    if in_form is not None:
        return Presented(form.get("client_id"), in_form, "client_secret_post")
    return Presented(form.get("client_id"), None, "none")


async def authenticate(clients: Clients, presented: Presented) -> Client | None:
    """The authenticated client, or None when no client was named at all.

    A confidential client must present its secret; a public client must not be given one.
    ``client_id=gatepass`` is the built-in first-party client (``oauth/first_party.py``).
    """
    if presented.client_id is None:
        if presented.secret is not None:
            raise InvalidClient()
        return None
    if presented.client_id == FIRST_PARTY_CLIENT_ID:
        if presented.secret is not None:
            raise InvalidClient()
        return first_party_client()
    client = await clients.cached(presented.client_id) if len(presented.client_id) <= 64 else None
    stored = client.secret_digest if client is not None and client.secret_digest else None
    if presented.secret is not None:
        ok = opaque.matches(presented.secret, stored or _DUMMY_DIGEST) and stored is not None
        if client is None or not ok:
            raise InvalidClient()
        return client
    if client is None or not client.public:
        raise InvalidClient()
    return client


async def authenticate_confidential(clients: Clients, presented: Presented) -> Client:
    """For introspection and the like: only a client that proved its secret."""
    client = await authenticate(clients, presented)
    if client is None or client.public or presented.secret is None:
        raise InvalidClient("This endpoint needs an authenticated confidential client.")
    return client
