"""The built-in first-party client ``gatepass``: a public client (RFC 6749 §2.1) with no
registration row.

It is the client of every login that names none (``/oauth/token`` without ``client_id``, and
``/auth/login``), so the tokens of those logins carry ``client_id: gatepass``. Naming it
(``client_id=gatepass``, with no secret) is the same as naming no client, and is how such tokens
are revoked through RFC 7009, which needs the client identified.
"""

from __future__ import annotations

from gatepass.storage.models import Client

FIRST_PARTY_CLIENT_ID = "gatepass"
GRANTS = ("password", "refresh_token")


def first_party_client() -> Client:
    """A fresh, unsaved record of the built-in client: public, password and refresh grants, the
    default scopes (plus ``gatepass:admin``, see ``oauth/scopes.py``), JWT access tokens."""
    return Client(
        id=FIRST_PARTY_CLIENT_ID,
        name="gatepass (built-in)",
        secret_digest=None,
        public=True,
        grants=list(GRANTS),
        scopes=[],
        audience=None,
        token_format="jwt",
        access_token_ttl=None,
        dpop_bound_access_tokens=False,  # DPoP accepted, not required (RFC 9449 §5)
        created_at=0.0,
    )
