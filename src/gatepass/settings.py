"""One typed settings object, read once from ``GATEPASS_*`` variables (and an optional file).

Build it with :func:`load_settings`; it is passed down explicitly, never read from a global.
A wrong value raises :class:`ConfigError` whose message is one line naming the variable.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gatepass.core.denylist import MAX_LEEWAY
from gatepass.core.mail_address import is_mail_address

SigningAlg = Literal["ES256", "EdDSA", "RS256", "HS256"]
# ID tokens are checked by relying parties with the published JWKS: never HS256 (client secrets
# are stored only as digests, so gatepass could not sign with them anyway)
IdTokenAlg = Literal["RS256", "ES256", "EdDSA"]

# What each field expects, said to a person when the value is wrong.
_EXPECTED: dict[str, str] = {
    "issuer": "an http(s) URL without query or fragment",
    "database_url": "a sqlite:/// URL naming a file, or a postgresql:// URL",
    "redis_url": "a redis:// or rediss:// URL",
    "redis_prefix": "1-64 letters, digits or . _ : -",
    "signing_alg": "one of ES256, EdDSA, RS256, HS256",
    "secret_key": "at least 32 characters",
    "default_scopes": (
        "comma-separated scopes (RFC 6749 §3.3), at most 2000 characters together, none "
        "starting with role: and not gatepass:admin"
    ),
    "allowed_origins": "a comma-separated list of origins such as https://app.example",
    "log_level": "one of debug, info, warning, error",
    "trusted_proxies": "a comma-separated list of addresses or networks (CIDR)",
    "signed_url_base": "an http(s) URL without query or fragment (the CDN host)",
    "signed_url_ttl": "seconds, at least 1 and at most GATEPASS_SIGNED_URL_MAX_TTL",
    "playback_ttl": "seconds, at least 1 and at most GATEPASS_SIGNED_URL_MAX_TTL",
    "secure_link_secret": "at least 16 printable characters, no spaces, quotes, $, ; or braces",
    "smtp_host": "a host name or address, without a scheme or port",
    "smtp_sender": "an address such as gatepass@example.com (required with GATEPASS_SMTP_HOST)",
    "smtp_username": "a user name (set with GATEPASS_SMTP_PASSWORD, or neither)",
    "webhook_urls": "a comma-separated list of http(s) URLs without fragment or credentials",
    "webhook_secret": "whsec_ and the base64 of 24-64 random bytes"
    " (required with GATEPASS_WEBHOOK_URLS)",
    "login_account_ceiling": "a whole number, at least GATEPASS_LOGIN_ACCOUNT_THRESHOLD",
    "id_token_alg": "one of RS256, ES256, EdDSA",
    "workers": "a whole number from 1 to 256",
    "product_name": "1-100 printable characters",
    "logo_url": "an https:// URL, or a path on this server starting with /",
    "template_dir": "an existing directory",
}


class ConfigError(Exception):
    """A setting is missing or wrong; ``str()`` is one line fit for a person."""


def _csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GATEPASS_", extra="ignore", frozen=True, validate_default=True
    )

    data_dir: Path = Path("gatepass-data")
    issuer: str = ""  # default: http://HOST:PORT of `serve`
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # server processes sharing this configuration (`serve --workers N`): with more than one and
    # no Redis, DPoP proofs are remembered in the database so that every worker refuses a replay
    workers: int = Field(1, ge=1, le=256)
    database_url: str = ""  # default: SQLite file in data_dir
    redis_url: str | None = None
    redis_prefix: str = Field("gatepass", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    secret_key: SecretStr | None = None  # master secret for keys at rest; else a 0600 file

    audience: str = "gatepass"
    access_token_ttl: int = Field(900, ge=10, le=86400)
    refresh_token_ttl: int = Field(30 * 86400, ge=60)
    refresh_idle_ttl: int = Field(14 * 86400, ge=60)
    refresh_reuse_grace: int = Field(10, ge=0, le=300)
    signing_alg: SigningAlg = "ES256"
    leeway: int = Field(30, ge=0, le=MAX_LEEWAY)
    # RFC 9449: how old a DPoP proof may be (its iat), and server nonces (§8) at the token endpoint
    dpop_proof_max_age: int = Field(60, ge=5, le=600)
    dpop_nonce: bool = False
    default_scopes: Annotated[list[str], NoDecode] = ["profile"]
    allowed_origins: Annotated[list[str], NoDecode] = []

    # Argon2id; OWASP minimum is m=19 MiB, t=2, p=1, and nothing below it is accepted.
    argon2_memory_kib: int = Field(19456, ge=19456, le=4 * 1024 * 1024)
    argon2_time_cost: int = Field(2, ge=2, le=20)
    argon2_parallelism: int = Field(1, ge=1, le=16)

    # Failed-login throttling (oauth/password_login.py): after `..._threshold` attempts in
    # `login_window` seconds the key waits, doubling each time, never longer than `..._max_lock`.
    # The account threshold counts per (account, address); `login_account_ceiling` counts an
    # account's failures from every address, and locks it for everyone.
    login_window: int = Field(900, ge=1)
    login_account_threshold: int = Field(5, ge=1)
    login_account_ceiling: int = Field(100, ge=1)
    login_account_max_lock: int = Field(300, ge=1)
    login_ip_threshold: int = Field(20, ge=1)
    login_ip_max_lock: int = Field(900, ge=1)
    event_retention_days: int = Field(90, ge=1, le=36500)  # security events, then purged

    key_refresh_interval: int = Field(10, ge=1)
    jwks_max_age: int = Field(300, ge=0)
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    body_timeout: float = Field(10.0, gt=0, le=3600)  # seconds to receive a whole request body
    trusted_proxies: Annotated[list[str], NoDecode] = []
    access_log: bool = False
    # the browser sessions' refresh cookie: __Host-gp_refresh with Path=/ instead of
    # __Secure-gp_refresh with Path=/auth (server/refresh_cookie.py says why)
    refresh_cookie_host_prefix: bool = False
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    # Signed URLs (docs: README "Signed URLs"). Who may sign: a token with this role, or with
    # this scope (an empty value turns that way off).
    signed_url_base: str = ""  # default: the issuer
    signed_url_role: str = "admin"
    signed_url_scope: str = "urls:sign"
    signed_url_max_ttl: int = Field(86400, ge=1, le=30 * 86400)
    signed_url_ttl: int = Field(600, ge=1)
    playback_ttl: int = Field(3600, ge=1)
    playback_audience: str = "gatepass-playback"
    secure_link_secret: SecretStr | None = None  # nginx secure_link_md5 format; off when unset

    # Security alerts (README "Security alerts"): email over SMTP when a host is set, signed
    # webhooks (Standard Webhooks) when URLs are set; without them nothing is sent.
    smtp_host: str = ""
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_password: SecretStr | None = None
    smtp_username: str = ""
    smtp_sender: str = ""
    webhook_urls: Annotated[list[str], NoDecode] = []
    webhook_secret: SecretStr | None = None

    # Browser and app login (README "Log your users in from a web or mobile app"): OpenID
    # Connect ID tokens, authorization codes, the single sign-on session, the hosted pages.
    id_token_alg: IdTokenAlg = "RS256"
    id_token_ttl: int = Field(3600, ge=60, le=86400)
    authorization_code_ttl: int = Field(60, ge=5, le=60)  # at most 60 s (issue 11)
    sso_session_ttl: int = Field(7 * 86400, ge=60)  # absolute lifetime of the SSO session
    sso_idle_ttl: int = Field(86400, ge=60)  # ended after this long without use
    product_name: str = Field("gatepass", min_length=1, max_length=100)
    logo_url: str = ""  # an https URL (or a path on this server) shown on the hosted pages
    template_dir: Path | None = None  # templates here override the built-in ones by name

    @field_validator("product_name")
    @classmethod
    def _product_name(cls, v: str) -> str:
        if any(ord(c) < 32 or ord(c) == 127 for c in v):
            raise ValueError("control character")
        return v

    @field_validator("logo_url")
    @classmethod
    def _logo_url(cls, v: str) -> str:
        if not v:
            return v
        ok = v.startswith("https://") or (v.startswith("/") and not v.startswith("//"))
        if not ok or any(c in v for c in "\"'<> ") or any(ord(c) < 32 for c in v):
            raise ValueError("bad logo URL")
        return v

    @field_validator("template_dir")
    @classmethod
    def _template_dir(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_dir():
            raise ValueError("not a directory")
        return v

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, v: str) -> str:
        if v and (not v.startswith(("https://", "http://")) or "?" in v or "#" in v):
            raise ValueError("bad issuer")
        return v.rstrip("/")

    @field_validator("signed_url_base")
    @classmethod
    def _signed_url_base(cls, v: str) -> str:
        if v and (not v.startswith(("https://", "http://")) or "?" in v or "#" in v):
            raise ValueError("bad signed url base")
        return v.rstrip("/")

    @field_validator("signed_url_ttl", "playback_ttl")
    @classmethod
    def _within_max_ttl(cls, v: int, info: ValidationInfo) -> int:
        if v > info.data.get("signed_url_max_ttl", v):
            raise ValueError("longer than the maximum")
        return v

    @field_validator("login_account_ceiling")
    @classmethod
    def _ceiling(cls, v: int, info: ValidationInfo) -> int:
        # below the per-address threshold, one address could lock the account for everyone
        if v < info.data.get("login_account_threshold", v):
            raise ValueError("below the account threshold")
        return v

    @field_validator("secure_link_secret")
    @classmethod
    def _secure_link_secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            text = v.get_secret_value()
            bad = "\"'$;{}"
            if len(text) < 16 or not all(0x21 <= ord(c) < 0x7F and c not in bad for c in text):
                raise ValueError("bad secure link secret")
        return v

    @field_validator("smtp_host")
    @classmethod
    def _smtp_host(cls, v: str) -> str:
        if v and not re.fullmatch(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]", v):
            raise ValueError("bad smtp host")
        return v

    @field_validator("smtp_username")
    @classmethod
    def _smtp_login(cls, v: str, info: ValidationInfo) -> str:
        if bool(v) != (info.data.get("smtp_password") is not None) or "\n" in v or "\r" in v:
            raise ValueError("smtp username and password go together")
        return v

    @field_validator("smtp_sender")
    @classmethod
    def _smtp_sender(cls, v: str, info: ValidationInfo) -> str:
        if info.data.get("smtp_host") and not v:
            raise ValueError("a sender is required")
        if v and not is_mail_address(v):
            raise ValueError("bad sender")
        return v

    @field_validator("webhook_urls")
    @classmethod
    def _webhook_urls(cls, v: list[str]) -> list[str]:
        from urllib.parse import urlsplit

        for url in v:
            parts = urlsplit(url)
            if (
                parts.scheme not in ("https", "http")
                or not parts.hostname
                or parts.fragment
                or "@" in parts.netloc
                or len(url) > 2048
            ):
                raise ValueError("bad webhook url")
        return v

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, v: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        from gatepass.core.webhooks import parse_secret

        if v is None:
            if info.data.get("webhook_urls"):
                raise ValueError("a secret is required")
            return None
        parse_secret(v.get_secret_value())  # ValueError names the setting
        return v

    @field_validator("database_url")
    @classmethod
    def _db(cls, v: str) -> str:
        if v and not v.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError("bad database url")
        if v.startswith("sqlite") and _sqlite_file(v) in ("", ":memory:"):
            raise ValueError("an in-memory database is not shared between connections")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("bad redis url")
        return v

    @field_validator("secret_key")
    @classmethod
    def _secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 32:
            raise ValueError("secret too short")
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: list[str]) -> list[str]:
        import ipaddress

        for item in v:
            ipaddress.ip_network(item, strict=False)  # ValueError names the setting
        return v

    @field_validator(
        "default_scopes", "allowed_origins", "trusted_proxies", "webhook_urls", mode="before"
    )
    @classmethod
    def _split(cls, v: object) -> object:
        return _csv(v)

    @field_validator("default_scopes")
    @classmethod
    def _default_scopes(cls, v: list[str]) -> list[str]:
        # the registration rules (a client without scopes of its own gets these), and never the
        # administration scope, which only clients registered for it may carry
        from gatepass.errors import GatepassError
        from gatepass.oauth import scopes

        try:
            scopes.check_registrable(scopes.parse(" ".join(v)) or ())
        except GatepassError:
            raise ValueError("bad default scopes") from None
        if scopes.ADMIN_SCOPE in v:
            raise ValueError("the administration scope cannot be a default")
        return v

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, v: list[str]) -> list[str]:
        for origin in v:
            if not origin.startswith(("https://", "http://")) or origin.count("/") != 2:
                raise ValueError("bad origin")
        return v

    @model_validator(mode="after")
    def _derived(self) -> Settings:
        if not self.issuer:
            object.__setattr__(self, "issuer", f"http://{self.host}:{self.port}")
        if not self.database_url:
            path = (self.data_dir / "gatepass.db").resolve()
            object.__setattr__(self, "database_url", f"sqlite:///{path}")
        if self.refresh_idle_ttl > self.refresh_token_ttl:
            object.__setattr__(self, "refresh_idle_ttl", self.refresh_token_ttl)
        if not self.signed_url_base:
            object.__setattr__(self, "signed_url_base", self.issuer)
        if self.sso_idle_ttl > self.sso_session_ttl:
            object.__setattr__(self, "sso_idle_ttl", self.sso_session_ttl)
        return self

    @property
    def async_database_url(self) -> str:
        """The URL with the async driver SQLAlchemy needs (aiosqlite, asyncpg)."""
        url = self.database_url
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://") :]
        scheme, sep, rest = url.partition("://")
        base = scheme.split("+", 1)[0]
        driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}[base]
        return f"{driver}{sep}{rest}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> str:
        """The SQLite database file (only for a sqlite URL)."""
        return _sqlite_file(self.database_url)


def _sqlite_file(url: str) -> str:
    return url.partition(":///")[2].partition("?")[0]


def load_settings(**overrides: object) -> Settings:
    """Read the environment (and ``GATEPASS_CONFIG_FILE``, a dotenv file), then ``overrides``.

    Raises :class:`ConfigError` with one line: the variable and what it expects. The offending
    value is not echoed, since it may be a secret.
    """
    env_file = os.environ.get("GATEPASS_CONFIG_FILE")
    if env_file and not Path(env_file).is_file():
        raise ConfigError(f"GATEPASS_CONFIG_FILE: no such file: {env_file}")
    given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(_env_file=env_file, **given)  # type: ignore[call-arg]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        expected = _EXPECTED.get(field) or _describe(err)
        raise ConfigError(f"GATEPASS_{field.upper()}: expected {expected}") from None


def _describe(err: Any) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "int_parsing" or kind == "int_from_float":
        return "a whole number"
    if kind == "greater_than_equal":
        return f"a number of at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"a number of at most {ctx.get('le')}"
    if kind == "bool_parsing":
        return "true or false"
    if kind == "literal_error":
        return str(ctx.get("expected", "one of the allowed values")).replace("'", "")
    return str(err.get("msg", "a valid value")).removeprefix("Value error, ")
