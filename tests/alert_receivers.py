"""Real receivers for alerts, run by the tests: an SMTP server (aiosmtpd) and an HTTP endpoint
for webhooks, each on a free loopback port in threads of the test process, stoppable and
restartable on the same port."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from servers import free_port


@dataclass
class Mail:
    received_at: float
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class _Handler:
    def __init__(self, inbox: SmtpInbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.inbox.lock:
            self.inbox.mails.append(
                Mail(time.time(), envelope.mail_from, list(envelope.rcpt_tos), msg)  # type: ignore[arg-type]
            )
        return self.inbox.answer


class SmtpInbox:
    """An SMTP server keeping every message it accepted (``answer`` is its reply to DATA)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.mails: list[Mail] = []
        self.lock = threading.Lock()
        self.answer = "250 OK"
        self._controller: Controller | None = None

    def start(self) -> SmtpInbox:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def received(self) -> list[Mail]:
        with self.lock:
            return list(self.mails)

    def message_ids(self) -> list[str]:
        return [str(m.message["Message-ID"]) for m in self.received()]


@dataclass
class Delivery:
    received_at: float
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookInbox:
    """An HTTP server answering POSTs with ``status`` (after ``hold`` is set, when given)."""

    port: int = field(default_factory=free_port)
    status: int = 204
    hold: threading.Event | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/gatepass"

    def start(self) -> WebhookInbox:
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if inbox.hold is not None:
                    inbox.hold.wait(60)
                with inbox.lock:
                    inbox.deliveries.append(Delivery(time.time(), dict(self.headers), body))
                self.send_response(inbox.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def received(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)


@pytest.fixture
def smtp() -> Iterator[SmtpInbox]:
    """An SMTP server for one test (import this fixture into the test module)."""
    inbox = SmtpInbox().start()
    yield inbox
    inbox.stop()


@pytest.fixture
def hooks() -> Iterator[WebhookInbox]:
    """A webhook receiver for one test (import this fixture into the test module)."""
    inbox = WebhookInbox().start()
    yield inbox
    inbox.stop()
