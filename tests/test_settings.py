"""Settings: defaults, derived values, and one clear line for each bad value."""

from __future__ import annotations

import pytest

from gatepass.settings import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("GATEPASS_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    s = load_settings()
    assert s.issuer == "http://127.0.0.1:8000"
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith(
        "gatepass-data/gatepass.db"
    )
    assert s.async_database_url.startswith("sqlite+aiosqlite:///")
    assert (s.access_token_ttl, s.refresh_token_ttl, s.refresh_idle_ttl) == (900, 2592000, 1209600)
    assert 0 < s.refresh_reuse_grace <= 60
    assert s.signing_alg == "ES256" and s.redis_url is None
    assert s.event_retention_days == 90
    assert (s.login_account_threshold, s.login_account_ceiling) == (5, 100)


def test_env_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEPASS_ISSUER", "https://auth.example/")
    monkeypatch.setenv("GATEPASS_DATABASE_URL", "postgres://u@h/db")
    monkeypatch.setenv("GATEPASS_SIGNING_ALG", "EdDSA")
    monkeypatch.setenv("GATEPASS_ALLOWED_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("GATEPASS_DEFAULT_SCOPES", "profile videos:read")
    s = load_settings()
    assert s.issuer == "https://auth.example"
    assert s.async_database_url == "postgresql+asyncpg://u@h/db"
    assert s.signing_alg == "EdDSA"
    assert s.allowed_origins == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("GATEPASS_ACCESS_TOKEN_TTL", "abc"),
        ("GATEPASS_ACCESS_TOKEN_TTL", "-5"),
        ("GATEPASS_SIGNING_ALG", "none"),
        ("GATEPASS_SIGNING_ALG", "HS512"),
        ("GATEPASS_ISSUER", "ftp://x"),
        ("GATEPASS_DATABASE_URL", "mysql://x"),
        ("GATEPASS_REDIS_URL", "http://x"),
        ("GATEPASS_SECRET_KEY", "short"),
        ("GATEPASS_ARGON2_MEMORY_KIB", "1024"),
        ("GATEPASS_ALLOWED_ORIGINS", "https://a.example/path"),
        ("GATEPASS_PORT", "70000"),
        ("GATEPASS_DEFAULT_SCOPES", "profile,role:admin"),
        ("GATEPASS_DEFAULT_SCOPES", "profile,gatepass:admin"),
        ("GATEPASS_DEFAULT_SCOPES", ",".join(f"s{i}:" + "x" * 95 for i in range(21))),
        ("GATEPASS_DEFAULT_SCOPES", 'pro"file'),
        ("GATEPASS_REFRESH_COOKIE_HOST_PREFIX", "sometimes"),
        ("GATEPASS_EVENT_RETENTION_DAYS", "0"),
        ("GATEPASS_EVENT_RETENTION_DAYS", "ninety"),
        ("GATEPASS_LOGIN_ACCOUNT_CEILING", "4"),  # below the threshold (5)
    ],
)
def test_bad_value_is_one_line_naming_the_variable(monkeypatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert message.startswith(var + ": expected ")
    assert "\n" not in message
    if var == "GATEPASS_SECRET_KEY":
        assert value not in message  # a secret is never echoed


def test_config_file(monkeypatch, tmp_path) -> None:
    f = tmp_path / "gatepass.env"
    f.write_text("GATEPASS_AUDIENCE=files-api\nGATEPASS_ACCESS_TOKEN_TTL=300\n")
    monkeypatch.setenv("GATEPASS_CONFIG_FILE", str(f))
    s = load_settings()
    assert s.audience == "files-api" and s.access_token_ttl == 300
    monkeypatch.setenv("GATEPASS_CONFIG_FILE", str(tmp_path / "missing.env"))
    with pytest.raises(ConfigError, match="GATEPASS_CONFIG_FILE"):
        load_settings()


def test_trusted_proxies(monkeypatch) -> None:
    monkeypatch.setenv("GATEPASS_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
    assert load_settings().trusted_proxies == ["127.0.0.1", "10.0.0.0/8"]
    monkeypatch.setenv("GATEPASS_TRUSTED_PROXIES", "localhost")
    with pytest.raises(ConfigError, match="GATEPASS_TRUSTED_PROXIES: expected a comma-separated"):
        load_settings()
