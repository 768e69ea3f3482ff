"""SQLAlchemy 2 models. Bearer secrets appear only as SHA-256 digests (``*_digest`` columns).

Times are stored as float seconds since the epoch (UTC), the unit the rest of the code uses.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


# A token's or login's scopes: as long as registration allows (oauth/scopes.MAX_SCOPE_CHARS).
# TEXT on PostgreSQL (migration 0005). SQLite keeps the VARCHAR(1000) declared by 0001 and 0003,
# which it never enforces (a declared length is only a type affinity there); rebuilding the
# tables to change the declaration would cascade-delete refresh tokens under foreign_keys=ON.
SCOPE = String(1000).with_variant(Text(), "postgresql")


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float)
    tokens_not_before: Mapped[float | None] = mapped_column(Float, nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # OIDC email_verified: only when someone vouched for the address (user create
    # --email-verified); gatepass sends no verification mail of its own
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # an administrator forced a password reset: password logins are refused until an
    # administrator sets a new password (oauth/admin_users.py)
    password_reset_required: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    grants: Mapped[list[str]] = mapped_column(JSON, default=list)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    audience: Mapped[str | None] = mapped_column(String(255), nullable=True)
    token_format: Mapped[str] = mapped_column(String(16), default="jwt")
    access_token_ttl: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    # RFC 9449 §5.2 / RFC 7591: every token request of this client must carry a DPoP proof
    dpop_bound_access_tokens: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # the authorization code flow (oauth/redirect_uris.py): where codes and logouts may go
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default="[]"
    )
    # first-party: the user is never asked for consent
    first_party: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SigningKeyRow(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    sealed_private: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)
    activated_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    retire_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # what the key signs: "access" tokens, or OpenID Connect "id_token"s (a key ring each)
    purpose: Mapped[str] = mapped_column(String(16), default="access", server_default="access")


class LoginSession(Base):
    """One login: a refresh-token family (``sid``).

    ``revoked_at`` is indexed only where it is set (migration 0016): the purge's
    ``revoked_at <= cutoff`` finds revoked logins there, and a statement that looks a login up
    by key with ``revoked_at IS NULL`` beside it cannot take that index for the better way in
    (with no statistics, PostgreSQL's generic plan of the rotation did: every live login read
    on every rotation)."""

    __tablename__ = "login_sessions"
    __table_args__ = (
        Index(
            "ix_login_sessions_revoked_at",
            "revoked_at",
            postgresql_where=text("revoked_at IS NOT NULL"),
            sqlite_where=text("revoked_at IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(SCOPE, default="")
    created_at: Mapped[float] = mapped_column(Float)
    last_used_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    idle_expires_at: Mapped[float] = mapped_column(Float, index=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(512), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # RFC 9449 §5: the DPoP key (RFC 7638 thumbprint) a public client's refresh tokens are
    # bound to; a refresh must come with a proof by that key
    jkt: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # "refresh": a refresh-token family; "sso": the single sign-on session of the hosted login
    # pages, whose cookie is stored only as ``cookie_digest`` and which has no refresh tokens
    kind: Mapped[str] = mapped_column(String(16), default="refresh", server_default="refresh")
    cookie_digest: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    # when and how the user authenticated (OIDC auth_time, RFC 8176 amr: "pwd")
    auth_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    amr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the SSO session this login was started from (an authorization code); RP-initiated
    # logout of that session ends it too, unless its scope has offline_access
    parent_sid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class RefreshToken(Base):
    """``used_at`` has no index, so that the rotation's consuming UPDATE is a HOT update on
    PostgreSQL (no index entry written: 6-22% less server CPU per rotation, bench/README.md),
    and the 10% of each page left free is where that new row version goes (migration 0015). The
    purge finds used tokens through ``issued_at`` (a token is used after it is issued)."""

    __tablename__ = "refresh_tokens"
    __table_args__ = {"postgresql_with": {"fillfactor": 90}}

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    sid: Mapped[str] = mapped_column(
        ForeignKey("login_sessions.id", ondelete="CASCADE"), index=True
    )
    generation: Mapped[int] = mapped_column(Integer, default=0)
    parent_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    issued_at: Mapped[float] = mapped_column(Float, index=True)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class SecurityEvent(Base):
    __tablename__ = "security_events"
    # one account's events, newest first (GET /auth/activity, /admin/events?user_id=): read in
    # index order, without sorting every event of the user
    __table_args__ = (Index("ix_security_events_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[float] = mapped_column(Float, index=True)
    user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    username: Mapped[str | None] = mapped_column(String(150), nullable=True)
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(512), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LoginThrottle(Base):
    """Failed-login counters per key (``acct_ip:<addr> <name>``, ``acct:<name>``, ``ip:<addr>``);
    ``expires_at`` is when the row says nothing any more (``storage/purge.py`` deletes it)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[float] = mapped_column(Float)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[float] = mapped_column(Float, default=0.0)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class DenylistEntry(Base):
    """A revocation: ``kind`` is ``jti`` (one token), ``sid`` (one login) or ``sub`` (every
    token of a user issued before ``not_before``). Kept until what it covers has expired."""

    __tablename__ = "denylist"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
    not_before: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class AuthorizationCode(Base):
    """An authorization code (RFC 6749 §4.1.2): only its digest is stored, with what it is
    bound to. ``used_at`` is set by the one conditional update that redeems it; ``login_sid``
    is the login its first use started, which a replay revokes."""

    __tablename__ = "authorization_codes"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sso_sid: Mapped[str] = mapped_column(String(64))  # the SSO session that approved it
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    code_challenge: Mapped[str] = mapped_column(String(128))  # PKCE S256 (RFC 7636 §4.2)
    nonce: Mapped[str | None] = mapped_column(String(512), nullable=True)
    scope: Mapped[str] = mapped_column(SCOPE, default="")
    auth_time: Mapped[float] = mapped_column(Float)
    amr: Mapped[str] = mapped_column(String(64), default="pwd")
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    login_sid: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Consent(Base):
    """The scopes a user allowed a (not first-party) client; withdrawn by deleting the row."""

    __tablename__ = "consents"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(SCOPE, default="")
    granted_at: Mapped[float] = mapped_column(Float)


class DpopProofSeen(Base):
    """A DPoP proof already accepted (RFC 9449 §11.1), for ``gatepass serve --workers N``
    without Redis: ``key`` is the proof's replay key (a SHA-256 hex digest of its key
    thumbprint and jti), kept until the proof could no longer pass anyway."""

    __tablename__ = "dpop_proofs_seen"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class UrlSigningKeyRow(Base):
    """HMAC keys for signed URLs, separate from token-signing keys; secret sealed at rest."""

    __tablename__ = "url_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)
    activated_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    retire_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class OpaqueAccessToken(Base):
    """An opaque access token: only its digest is stored, with the claims it stands for.

    Indexed only for what reads it: the digest (lookup), ``sid`` and ``sub`` (revoking a
    login's or a user's tokens) and ``expires_at`` (the purge). Every index is written on each
    token issued; ``client_id`` and a unique ``jti`` (128 random bits) served no query and cost
    the SQLite insert about 40% of its CPU (migration 0014)."""

    __tablename__ = "opaque_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(64))
    sub: Mapped[str] = mapped_column(String(64), index=True)
    sid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    username: Mapped[str | None] = mapped_column(String(150), nullable=True)
    scope: Mapped[str] = mapped_column(SCOPE, default="")
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    audience: Mapped[str] = mapped_column(String(255))
    issued_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    jkt: Mapped[str | None] = mapped_column(String(64), nullable=True)  # RFC 9449 §6.2 cnf.jkt


class AlertOutbox(Base):
    """An alert to deliver (an email or a webhook about a security event), written in the
    event's own transaction and kept until delivered (``storage/outbox.py``).

    ``due_at`` is when the row may next be claimed; a claim moves it to the end of the claim's
    lease, and it is NULL once the row is done (delivered, or given up), so the index on it
    holds only what is still to send."""

    __tablename__ = "alert_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)  # idempotency id
    event_id: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))  # email | webhook
    target: Mapped[str] = mapped_column(String(2048))  # an address or a URL
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float)
    due_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    claim: Mapped[str | None] = mapped_column(String(32), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # delivered | failed
    done_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)


class KnownDevice(Base):
    """A device a user has signed in from (``core/devices.py``): a digest of its User-Agent
    family and address network, to tell a sign-in from a new device."""

    __tablename__ = "known_devices"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen: Mapped[float] = mapped_column(Float)
