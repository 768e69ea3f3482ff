"""Alert webhooks, signed as Standard Webhooks 1.0 says (``core/webhooks.py``).

Any answer but 2xx is a failure to retry; redirects are not followed (a receiver that moved
is reconfigured, not chased). An alert queued for a URL that is no longer in
``GATEPASS_WEBHOOK_URLS`` is given up, never sent: a URL is removed because it must not get
alerts any more.
"""

from __future__ import annotations

import httpx

from gatepass.alerts.errors import DeliveryFailed, Undeliverable
from gatepass.clock import Clock, SystemClock
from gatepass.core import webhooks
from gatepass.core.alert_texts import webhook_body
from gatepass.settings import Settings
from gatepass.storage.outbox import Claimed

TIMEOUT = 10.0  # seconds for a whole attempt


class WebhookSender:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        if settings.webhook_secret is None:
            raise ValueError("webhooks need GATEPASS_WEBHOOK_SECRET")
        self._key = webhooks.parse_secret(settings.webhook_secret.get_secret_value())
        # the receiver checks the timestamp against its own clock: the real time, always
        self._clock = clock or SystemClock()
        self._http = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)
        self._urls = frozenset(settings.webhook_urls)

    def request(self, row: Claimed) -> tuple[bytes, dict[str, str]]:
        body = webhook_body(row.payload)
        return body, webhooks.headers(self._key, row.message_id, int(self._clock.now()), body)

    async def send(self, row: Claimed) -> None:
        if row.target not in self._urls:
            raise Undeliverable("the webhook URL is no longer configured")
        body, headers = self.request(row)
        try:
            r = await self._http.post(row.target, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(type(exc).__name__) from None
        if not 200 <= r.status_code < 300:
            raise DeliveryFailed(f"HTTP {r.status_code}")

    async def close(self) -> None:
        await self._http.aclose()
