"""SQLAlchemy 2 models. Bearer secrets appear only as SHA-256 digests (``*_digest`` columns).

Times are stored as float seconds since the epoch (UTC), the unit the rest of the code uses.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text, false
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


class SigningKeyRow(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    sealed_private: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)
    activated_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    retire_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class LoginSession(Base):
    """One login: a refresh-token family (``sid``)."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(SCOPE, default="")
    created_at: Mapped[float] = mapped_column(Float)
    last_used_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    idle_expires_at: Mapped[float] = mapped_column(Float, index=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(512), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # RFC 9449 §5: the DPoP key (RFC 7638 thumbprint) a public client's refresh tokens are
    # bound to; a refresh must come with a proof by that key
    jkt: Mapped[str | None] = mapped_column(String(64), nullable=True)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    sid: Mapped[str] = mapped_column(
        ForeignKey("login_sessions.id", ondelete="CASCADE"), index=True
    )
    generation: Mapped[int] = mapped_column(Integer, default=0)
    parent_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    issued_at: Mapped[float] = mapped_column(Float)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class SecurityEvent(Base):
    __tablename__ = "security_events"

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
    """An opaque access token: only its digest is stored, with the claims it stands for."""

    __tablename__ = "opaque_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
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
