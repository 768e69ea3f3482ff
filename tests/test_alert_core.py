"""Pure parts of the alerts: Standard Webhooks signatures (checked with the `standardwebhooks`
package, a verifier nobody here wrote), backoff, devices, and what an email may say."""

from __future__ import annotations

import base64
import json
import secrets
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gatepass.core import backoff, devices, webhooks
from gatepass.core.alert_texts import EMAIL_EVENTS, email_text, wants_email, webhook_body

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def event(type_: str = "refresh_reuse", **over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": 7,
        "type": type_,
        "created_at": 1_800_000_000.25,
        "user_id": "u-1",
        "username": "bob",
        "client_id": "gatepass",
        "sid": "gpsabc",
        "ip": "203.0.113.9",
        "user_agent": "Mozilla/5.0 Firefox/120.0",
        "details": {"generation": 1},
    }
    base.update(over)
    return base


def test_webhook_signature_verifies_with_the_standardwebhooks_library() -> None:
    body = webhook_body(event())
    headers = webhooks.headers(webhooks.parse_secret(SECRET), "msg_1", int(time.time()), body)
    assert Webhook(SECRET).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"bob", b"eve"), headers)
    other = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)


def test_webhook_body_is_standard_and_the_same_on_every_retry() -> None:
    body = json.loads(webhook_body(event()))
    assert body["type"] == "security.refresh_reuse"
    assert body["timestamp"] == "2027-01-15T08:00:00.250Z"
    assert body["data"]["id"] == 7 and body["data"]["details"] == {"generation": 1}
    assert webhook_body(event()) == webhook_body(event())


@pytest.mark.parametrize(
    "text",
    [
        "",
        "whsec_",
        "abc",
        "whsec_not base64!",
        "whsec_" + base64.b64encode(b"short").decode(),
        "whsec_" + base64.b64encode(b"x" * 65).decode(),
    ],
)
def test_bad_webhook_secrets_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        webhooks.parse_secret(text)


def test_backoff_grows_is_capped_and_jittered() -> None:
    lows = [backoff.delay(n, base=5, cap=3600, rand=0.0) for n in range(1, 15)]
    highs = [backoff.delay(n, base=5, cap=3600, rand=0.999999) for n in range(1, 15)]
    assert lows[:4] == [2.5, 5.0, 10.0, 20.0]
    assert all(a <= b for a, b in zip(lows, lows[1:], strict=False))
    assert max(highs) <= 3600 and lows[-1] == 1800
    assert backoff.delay(10_000, base=5, cap=3600, rand=0.5) == 2700
    for bad in ({"attempt": 0, "rand": 0.5}, {"attempt": 1, "rand": 1.0}):
        with pytest.raises(ValueError):
            backoff.delay(bad["attempt"], base=5, cap=60, rand=bad["rand"])  # type: ignore[arg-type]


def test_a_device_survives_browser_updates_and_a_new_address_on_the_same_network() -> None:
    fp = devices.fingerprint
    old = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    new = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
    assert fp(old, "203.0.113.9") == fp(new, "203.0.113.77")
    assert fp(old, "203.0.113.9") != fp(old, "198.51.100.9")
    assert fp(old, "203.0.113.9") != fp("curl/8.5.0", "203.0.113.9")
    assert fp(None, "2001:db8:1:2::1") == fp("", "2001:db8:1:ffff::9")
    assert fp(old, "not an address") == fp(old, None)


def test_emails_go_out_for_the_four_kinds_only() -> None:
    assert wants_email("refresh_reuse", {})
    assert wants_email("password_change", {})
    assert wants_email("lockout", {"scope": "acct"})
    assert wants_email("lockout", {"scope": "acct_ip"})
    assert not wants_email("lockout", {"scope": "ip"})
    assert wants_email("sign_in", {"new_device": True})
    assert not wants_email("sign_in", {"new_device": False})
    assert not wants_email("logout_all", {}) and not wants_email("forced_logout", {})


@pytest.mark.parametrize("type_", EMAIL_EVENTS)
def test_email_texts_are_plain_and_carry_nothing_secret(type_: str) -> None:
    hostile = "Evil\r\nBcc: x@evil.example\x1b[31m" + "A" * 500
    text = email_text(event(type_, user_agent=hostile, details={"new_device": True}))
    assert "\r" not in text.body and "\x1b" not in text.body
    assert not any(line.startswith("Bcc:") for line in text.body.splitlines())
    assert len(max(text.body.splitlines(), key=len)) < 260
    assert "gpr_" not in text.body and "gpsabc" not in text.body
    assert "2027-01-15 08:00 UTC" in text.body and "203.0.113.9" in text.body
    if type_ == "refresh_reuse":
        assert "A stolen refresh token was used; we ended that session." in text.body
    with pytest.raises(ValueError):
        email_text(event("logout_all"))
