"""Alert emails over SMTP (RFC 5321), with STARTTLS (RFC 3207) required when configured.

aiosmtplib rather than smtplib in a thread: a mail server that is slow or unreachable then
holds no thread of the pool that also hashes passwords. With STARTTLS on, a server that does not
offer it gets nothing (the attempt fails and is retried), never the message in clear text.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from gatepass.alerts.errors import DeliveryFailed, Undeliverable
from gatepass.core.alert_texts import email_text
from gatepass.settings import Settings
from gatepass.storage.outbox import Claimed

TIMEOUT = 30.0  # seconds, per SMTP command; the outbox lease is longer than a whole attempt


class SmtpSender:
    def __init__(self, settings: Settings) -> None:
        self._host = settings.smtp_host
        self._port = settings.smtp_port
        self._starttls = settings.smtp_starttls
        self._username = settings.smtp_username or None
        self._password = (
            settings.smtp_password.get_secret_value() if settings.smtp_password else None
        )
        self._sender = settings.smtp_sender
        self._domain = settings.smtp_sender.rpartition("@")[2]

    def message(self, row: Claimed) -> EmailMessage:
        """The email for one outbox row; its Message-ID is the row's idempotency id."""
        text = email_text(row.payload)
        msg = EmailMessage()
        msg["From"] = self._sender
        msg["To"] = row.target
        msg["Subject"] = text.subject
        msg["Date"] = formatdate(row.created_at, usegmt=True)
        msg["Message-ID"] = f"<{row.message_id}@{self._domain}>"
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
        msg.set_content(text.body)
        return msg

    async def send(self, row: Claimed) -> None:
        msg = self.message(row)
        try:
            await aiosmtplib.send(
                msg,
                sender=self._sender,
                recipients=[row.target],
                hostname=self._host,
                port=self._port,
                start_tls=self._starttls,
                username=self._username,
                password=self._password,
                timeout=TIMEOUT,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if codes and all(500 <= c < 600 for c in codes):
                raise Undeliverable(f"recipient refused ({codes[0]})") from None
            raise DeliveryFailed(f"recipient refused ({codes[0] if codes else '?'})") from None
        except aiosmtplib.SMTPDataError as exc:
            if 500 <= exc.code < 600:
                raise Undeliverable(f"message refused ({exc.code})") from None
            raise DeliveryFailed(f"message refused ({exc.code})") from None
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"{type(exc).__name__} ({exc.code})") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(type(exc).__name__) from None

    async def close(self) -> None:
        return None
