"""Alerts from the running app (in process) to real receivers: sign-ins from a new device,
password changes, lockouts and refresh-token reuse reach the user's mailbox, every event reaches
the webhook, and no message carries a token."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook

from alert_receivers import SmtpInbox, WebhookInbox
from conftest import PASSWORD, Harness
from gatepass.core import opaque
from gatepass.oauth.users import create_user
from gatepass.storage.models import AlertOutbox, RefreshToken
from servers import wait_until

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
XRW = {"X-Requested-With": "fetch"}
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


@pytest.fixture
def app(make_harness: Callable[..., Harness], smtp: SmtpInbox, hooks: WebhookInbox) -> Harness:
    h = make_harness(
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_starttls=False,
        smtp_sender="security@gatepass.example",
        webhook_urls=hooks.url,
        webhook_secret=SECRET,
    )
    h.run(create_user, h.svc, "bob", PASSWORD, (), email="bob@example.com")
    return h


def login(h: Harness, user_agent: str, password: str = PASSWORD) -> Any:
    return h.client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "bob", "password": password},
        headers={"User-Agent": user_agent},
    )


def events(h: Harness, type_: str) -> list[Any]:
    return list(h.run(h.svc.events.page, type_=type_))


def hook_types(hooks: WebhookInbox) -> list[str]:
    out = []
    for d in hooks.received():
        out.append(Webhook(SECRET).verify(d.body, d.headers)["type"])
    return out


def test_a_sign_in_from_a_new_device_is_emailed_and_the_first_and_known_ones_are_not(
    app: Harness, smtp: SmtpInbox, hooks: WebhookInbox
) -> None:
    assert login(app, FIREFOX).status_code == 200  # the first sign-in: nothing to compare with
    assert login(app, FIREFOX.replace("120.0", "121.0")).status_code == 200  # an update
    r = app.client.post(
        "/auth/login",
        json={"username": "bob", "password": PASSWORD},
        headers={**XRW, "User-Agent": "curl/8.5.0"},
    )
    assert r.status_code == 200
    signed_in = events(app, "sign_in")
    flags = [(e.details["new_device"], e.details.get("first_sign_in")) for e in signed_in]
    assert flags == [(False, True), (False, None), (True, None)]
    assert wait_until(lambda: len(smtp.received()) == 1 and len(hooks.received()) == 3)
    (mail,) = smtp.received()
    assert mail.rcpt_tos == ["bob@example.com"]
    assert mail.message["Subject"] == "New sign-in to your account"
    assert "curl/" in mail.message.get_content()
    assert hook_types(hooks) == ["security.sign_in"] * 3
    assert wait_until(lambda: app.run(app.svc.events.outbox.counts) == {"delivered": 4})


def test_password_change_and_an_account_lockout_are_emailed(
    app: Harness, smtp: SmtpInbox, hooks: WebhookInbox
) -> None:
    token = login(app, FIREFOX).json()["access_token"]
    r = app.client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers=app.bearer(token),
    )
    assert r.status_code == 204
    for _ in range(app.svc.settings.login_account_threshold):
        assert login(app, FIREFOX, "wrong password").status_code == 400
    # the attempt past the threshold starts the lock (password_login reserves before checking)
    assert login(app, FIREFOX, "wrong password").status_code == 429
    assert [e.details["scope"] for e in events(app, "lockout")] == ["acct_ip"]
    assert wait_until(lambda: len(smtp.received()) == 2)
    subjects = sorted(str(m.message["Subject"]) for m in smtp.received())
    assert subjects == ["Sign-ins to your account were paused", "Your password was changed"]
    assert wait_until(lambda: len(hooks.received()) == 3)
    assert sorted(hook_types(hooks)) == [
        "security.lockout",
        "security.password_change",
        "security.sign_in",
    ]


def test_refresh_reuse_alerts_carry_no_token_and_each_message_its_own_id(
    app: Harness, smtp: SmtpInbox, hooks: WebhookInbox
) -> None:
    tokens = login(app, FIREFOX).json()
    first = tokens["refresh_token"]
    data = {"grant_type": "refresh_token", "refresh_token": first}
    rotated = app.client.post("/oauth/token", data=data).json()
    # a replay after the grace window: age the used token instead of waiting
    async def age() -> None:
        async with app.svc.sessions.begin() as s:
            await s.execute(
                update(RefreshToken)
                .where(RefreshToken.digest == opaque.digest(first))
                .values(used_at=RefreshToken.used_at - 3600)
            )

    app.run(age)
    r = app.client.post("/oauth/token", data=data)
    assert r.json()["error"] == "invalid_grant"
    assert wait_until(lambda: len(smtp.received()) == 1 and len(hooks.received()) == 2)
    (mail,) = smtp.received()
    body = mail.message.get_content()
    assert "A stolen refresh token was used; we ended that session." in body
    secrets_seen = [first, rotated["refresh_token"], rotated["access_token"]]
    secrets_seen.append(tokens["access_token"])
    wire = [body, *(d.body.decode() for d in hooks.received())]
    for text in wire:
        assert not any(s in text for s in secrets_seen)
        assert opaque.digest(first) not in text
    message_ids = [r.message_id for r in app.run(_rows, app)]
    assert mail.message["Message-ID"] == f"<{message_ids[1]}@gatepass.example>"
    assert [d.headers["webhook-id"] for d in hooks.received()] == [message_ids[0], message_ids[2]]


async def _rows(h: Harness) -> list[Any]:
    async with h.svc.sessions() as s:
        return list((await s.execute(select(AlertOutbox).order_by(AlertOutbox.id))).scalars())


def test_without_alert_settings_events_are_recorded_and_nothing_is_queued(gp: Harness) -> None:
    assert gp.login("bob").status_code == 200
    (event,) = gp.run(gp.svc.events.page, type_="sign_in")
    assert event.details == {"method": "password", "new_device": False, "first_sign_in": True}
    assert gp.run(gp.svc.events.outbox.counts) == {}
