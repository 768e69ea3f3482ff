"""Alerts from real `gatepass serve` processes: a replayed refresh token reaches a real SMTP
server (aiosmtpd) and a webhook receiver whose signature check is the `standardwebhooks`
package's; with the SMTP server down, alerts wait in the outbox through a kill -9 and a restart,
and each is delivered once it is back."""

from __future__ import annotations

import base64
import secrets
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from alert_receivers import SmtpInbox, WebhookInbox
from conftest import PASSWORD
from servers import Server, cli, wait_until

pytestmark = pytest.mark.slow
SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def smtp_settings(smtp: SmtpInbox) -> dict[str, str]:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_STARTTLS": "false",
        "SMTP_SENDER": "security@gatepass.example",
        "REFRESH_REUSE_GRACE": "0",  # a replay right after the rotation is reuse
    }


def add_bob(server: Server) -> None:
    cli(
        server.env,
        "user",
        "create",
        "bob",
        "--email",
        "bob@example.com",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )


def replay(url: str) -> None:
    """Log in, rotate, and present the first refresh token again: reuse."""
    with httpx.Client(base_url=url, timeout=30) as http:
        r = http.post(
            "/oauth/token", data={"grant_type": "password", "username": "bob", "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        data = {"grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"]}
        assert http.post("/oauth/token", data=data).status_code == 200
        r = http.post("/oauth/token", data=data)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def outbox(data_dir: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(data_dir / "gatepass.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM alert_outbox ORDER BY id")]


def test_a_replayed_refresh_token_is_emailed_and_sent_as_a_signed_webhook(tmp_path: Path) -> None:
    smtp, hooks = SmtpInbox().start(), WebhookInbox().start()
    server = Server(
        tmp_path / "data",
        **smtp_settings(smtp),
        WEBHOOK_URLS=hooks.url,
        WEBHOOK_SECRET=SECRET,
    )
    try:
        add_bob(server)
        server.start()
        replay(server.url)
        assert wait_until(lambda: len(smtp.received()) == 1, timeout=60)
        (mail,) = smtp.received()
        assert mail.rcpt_tos == ["bob@example.com"]
        assert mail.message["From"] == "security@gatepass.example"
        assert "A stolen refresh token was used; we ended that session." in (
            mail.message.get_content()
        )
        assert wait_until(lambda: len(hooks.received()) == 2, timeout=60)  # sign_in, reuse
        verified = [Webhook(SECRET).verify(d.body, d.headers) for d in hooks.received()]
        reuse = next(v for v in verified if v["type"] == "security.refresh_reuse")
        assert reuse["data"]["user_id"] and reuse["data"]["sid"].startswith("gps")
        assert reuse["data"]["details"]["why"]
    finally:
        server.stop()
        smtp.stop()
        hooks.stop()


def test_alerts_wait_out_an_smtp_outage_and_a_kill_9_and_none_is_lost(tmp_path: Path) -> None:
    smtp = SmtpInbox()  # its port is chosen, the server is not started: mail is down
    data_dir = tmp_path / "data"
    server = Server(data_dir, **smtp_settings(smtp))
    try:
        add_bob(server)
        server.start()
        for _ in range(5):
            replay(server.url)

        def all_tried() -> bool:
            rows = [r for r in outbox(data_dir) if r["channel"] == "email"]
            return len(rows) == 5 and all(r["attempts"] >= 1 for r in rows)

        assert wait_until(all_tried, timeout=60)
        assert {r["state"] for r in outbox(data_dir)} == {"pending"}
        server.kill9()
        server.start()  # the same data directory and port
        smtp.start()
        expected = {f"<{r['message_id']}@gatepass.example>" for r in outbox(data_dir)}
        assert len(expected) == 5
        assert wait_until(lambda: set(smtp.message_ids()) == expected, timeout=180)
        assert wait_until(
            lambda: {r["state"] for r in outbox(data_dir)} == {"delivered"}, timeout=60
        )
        # at-least-once: nothing lost; and no process died after a send here, so no repeat
        assert Counter(smtp.message_ids()) == Counter(expected)
        subjects = {str(m.message["Subject"]) for m in smtp.received()}
        assert subjects == {"Security alert: we ended a session on your account"}
    finally:
        server.stop()
        smtp.stop()
