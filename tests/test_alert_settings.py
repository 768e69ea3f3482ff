"""Alert settings: SMTP and webhooks, each bad value one line naming the variable (and never
echoing it: it may be a secret)."""

from __future__ import annotations

import base64

import pytest

from gatepass.settings import ConfigError, load_settings

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("GATEPASS_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_alerts_are_off_by_default_and_configured_from_the_environment(monkeypatch) -> None:
    s = load_settings()
    assert not s.smtp_host and s.webhook_urls == [] and s.webhook_secret is None
    for name, value in {
        "SMTP_HOST": "mail.example",
        "SMTP_PORT": "2525",
        "SMTP_STARTTLS": "false",
        "SMTP_USERNAME": "gatepass",
        "SMTP_PASSWORD": "mail secret",
        "SMTP_SENDER": "security@auth.example",
        "WEBHOOK_URLS": "https://a.example/hook, http://10.0.0.5:8080/x",
        "WEBHOOK_SECRET": SECRET,
    }.items():
        monkeypatch.setenv("GATEPASS_" + name, value)
    s = load_settings()
    assert (s.smtp_host, s.smtp_port, s.smtp_starttls) == ("mail.example", 2525, False)
    assert s.webhook_urls == ["https://a.example/hook", "http://10.0.0.5:8080/x"]
    assert s.smtp_starttls is False and s.smtp_password is not None
    assert "mail secret" not in repr(s) and SECRET not in repr(s)


@pytest.mark.parametrize(
    ("env", "var"),
    [
        ({"SMTP_HOST": "smtp://mail.example"}, "SMTP_HOST"),
        ({"SMTP_HOST": "mail.example:25"}, "SMTP_HOST"),
        ({"SMTP_HOST": "mail.example"}, "SMTP_SENDER"),
        ({"SMTP_HOST": "m.example", "SMTP_SENDER": "Gatepass <a@b.example>"}, "SMTP_SENDER"),
        ({"SMTP_HOST": "m.example", "SMTP_SENDER": "a@b.example\r\nBcc: x@y.z"}, "SMTP_SENDER"),
        ({"SMTP_PORT": "0"}, "SMTP_PORT"),
        ({"SMTP_PORT": "smtp"}, "SMTP_PORT"),
        ({"SMTP_STARTTLS": "maybe"}, "SMTP_STARTTLS"),
        ({"SMTP_USERNAME": "gatepass"}, "SMTP_USERNAME"),
        ({"SMTP_PASSWORD": "a password alone"}, "SMTP_USERNAME"),
        ({"WEBHOOK_URLS": "https://a.example/hook"}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_URLS": "ftp://a.example/hook", "WEBHOOK_SECRET": SECRET}, "WEBHOOK_URLS"),
        ({"WEBHOOK_URLS": "https://u:p@a.example/", "WEBHOOK_SECRET": SECRET}, "WEBHOOK_URLS"),
        ({"WEBHOOK_URLS": "https://a.example/#x", "WEBHOOK_SECRET": SECRET}, "WEBHOOK_URLS"),
        ({"WEBHOOK_URLS": "https://a.ex/", "WEBHOOK_SECRET": "s3cr3t-value"}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_SECRET": "whsec_" + base64.b64encode(b"k" * 8).decode()}, "WEBHOOK_SECRET"),
    ],
)
def test_a_bad_alert_setting_is_one_line_naming_it(monkeypatch, env: dict[str, str], var: str):
    for name, value in env.items():
        monkeypatch.setenv("GATEPASS_" + name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    line = str(err.value)
    assert line.startswith(f"GATEPASS_{var}: expected") and "\n" not in line
    assert "s3cr3t" not in line and "a password alone" not in line
