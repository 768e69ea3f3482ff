"""The alert outbox and its worker against real receivers, on SQLite and on PostgreSQL: alerts
written with their event or not at all, claims that keep concurrent workers from sending a
message twice while a lease holds, a lease that runs out, backoff, giving up, and purge."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from gatepass.alerts.worker import Worker, senders_from
from gatepass.clock import FrozenClock
from gatepass.oauth.services import Services, open_services
from gatepass.settings import Settings
from gatepass.storage import db
from gatepass.storage.models import AlertOutbox, SecurityEvent
from gatepass.storage.outbox import GIVE_UP_AFTER, Outbox
from gatepass.storage.purge import ALERT_RETENTION, purge

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
T0 = 1_800_000_000.0


def alert_settings(
    make_settings: Callable[..., Settings], database_url: str, **kw: Any
) -> Settings:
    return make_settings(database_url=database_url, webhook_secret=SECRET, **kw)


def run(settings: Settings, body: Callable[[Services, FrozenClock], Any]) -> None:
    async def main() -> None:
        clock = FrozenClock(T0)
        svc = await open_services(settings, clock)
        try:
            await body(svc, clock)
        finally:
            await svc.close()

    asyncio.run(main())


@contextlib.asynccontextmanager
async def working(
    outbox: Outbox, settings: Settings, clock: FrozenClock, **kw: Any
) -> AsyncIterator[Worker]:
    """A worker with the senders the settings call for, closed afterwards."""
    w = Worker(outbox, senders_from(settings), clock, **kw)
    try:
        yield w
    finally:
        for sender in w.senders.values():
            await sender.close()


async def user_with_email(svc: Services, name: str = "bob", email: str | None = None) -> str:
    user = await svc.users.create(name, "$argon2id$fake", [], T0, email=email)
    return user.id


async def reuse_event(svc: Services, user_id: str) -> None:
    await svc.events.record(
        "refresh_reuse", now=svc.clock.now(), user_id=user_id, sid="gps1", details={}
    )


async def outbox_rows(svc: Services) -> list[AlertOutbox]:
    async with svc.sessions() as s:
        return list((await s.execute(select(AlertOutbox).order_by(AlertOutbox.id))).scalars())


def test_events_queue_their_alerts_by_kind_and_nothing_without_settings(
    make_settings, database_url, hooks, smtp
) -> None:
    async def without(svc: Services, clock: FrozenClock) -> None:
        await reuse_event(svc, await user_with_email(svc, "zed", "zed@example.com"))
        assert len(await svc.events.page()) == 1
        assert await outbox_rows(svc) == []

    run(make_settings(database_url=database_url), without)

    async def body(svc: Services, clock: FrozenClock) -> None:
        bob = await user_with_email(svc, "bob", "bob@example.com")
        nomail = await user_with_email(svc, "carol")
        await reuse_event(svc, bob)  # email + 2 webhooks
        await reuse_event(svc, nomail)  # 2 webhooks
        await svc.events.record("logout_all", now=clock.now(), user_id=bob)  # 2 webhooks
        await svc.events.record(  # 2 webhooks, without the name: it may be a typed password
            "lockout", now=clock.now(), user_id=None, username="hunter2", details={"scope": "ip"}
        )
        rows = await outbox_rows(svc)
        assert [(r.channel, r.target) for r in rows[:3]] == [
            ("email", "bob@example.com"),
            ("webhook", hooks.url),
            ("webhook", hooks.url + "?second"),
        ]
        assert Counter(r.channel for r in rows) == {"email": 1, "webhook": 8}
        assert len({r.message_id for r in rows}) == 9
        assert rows[-1].payload["type"] == "lockout" and rows[-1].payload["username"] is None
        assert rows[0].payload["username"] is None and rows[0].payload["user_id"] == bob
        assert all(r.state == "pending" and r.due_at == T0 for r in rows)

    settings = alert_settings(
        make_settings,
        database_url,
        webhook_urls=f"{hooks.url},{hooks.url}?second",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_sender="gatepass@example.com",
    )
    run(settings, body)


def test_an_event_is_never_recorded_without_its_alerts(make_settings, database_url, hooks) -> None:
    async def body(svc: Services, clock: FrozenClock) -> None:
        bob = await user_with_email(svc)
        outbox = svc.events.outbox
        real, real_sqlite = outbox.enqueue, outbox.enqueue_sqlite

        async def then_fail(*args: Any) -> int:
            assert await real(*args) == 1  # the webhook
            raise OSError("the connection broke after the alerts were written")

        def then_fail_sqlite(*args: Any) -> int:  # SQLite: the event loop's own connection
            assert real_sqlite(*args) == 1
            raise OSError("the connection broke after the alerts were written")

        outbox.enqueue = then_fail  # type: ignore[method-assign]
        outbox.enqueue_sqlite = then_fail_sqlite  # type: ignore[method-assign]
        with pytest.raises(OSError):
            await reuse_event(svc, bob)
        outbox.enqueue, outbox.enqueue_sqlite = real, real_sqlite  # type: ignore[method-assign]
        assert await svc.events.page() == [] and await outbox_rows(svc) == []

    run(alert_settings(make_settings, database_url, webhook_urls=hooks.url), body)


def test_concurrent_workers_never_send_a_message_twice_while_a_lease_holds(
    make_settings, database_url, hooks
) -> None:
    """Four workers, each on its own engine (connections), claim three rows at a time from 60
    until none is left: every message arrives exactly once."""
    settings = alert_settings(make_settings, database_url, webhook_urls=hooks.url)

    async def body(svc: Services, clock: FrozenClock) -> None:
        bob = await user_with_email(svc)
        for _ in range(60):
            await reuse_event(svc, bob)
        engines = [db.make_engine(settings) for _ in range(4)]
        routes = svc.events.outbox.routes

        async def drain(w: Worker) -> int:
            total = 0
            while n := await w.round():
                total += n
            return total

        try:
            async with contextlib.AsyncExitStack() as stack:
                workers = [
                    await stack.enter_async_context(
                        working(Outbox(db.sessionmaker(e), routes), settings, clock, batch=3)
                    )
                    for e in engines
                ]
                claimed = await asyncio.gather(*(drain(w) for w in workers))
        finally:
            for e in engines:
                await e.dispose()
        ids = Counter(d.headers["webhook-id"] for d in hooks.received())
        assert len(ids) == 60 and set(ids.values()) == {1}
        assert sum(claimed) == 60
        assert sum(1 for n in claimed if n) >= 2, "the workers did not run side by side"
        assert await svc.events.outbox.counts() == {"delivered": 60}

    run(settings, body)


def test_a_claim_whose_lease_ran_out_is_taken_over_and_its_late_outcome_ignored(
    make_settings, database_url, hooks
) -> None:
    settings = alert_settings(make_settings, database_url, webhook_urls=hooks.url)

    async def body(svc: Services, clock: FrozenClock) -> None:
        await reuse_event(svc, await user_with_email(svc))
        outbox = svc.events.outbox
        # worker A claims the row and then hangs (or is killed) before any outcome
        (stuck,) = await outbox.claim(now=clock.now(), lease=60, limit=10, channels=("webhook",))
        async with working(outbox, settings, clock) as worker_b:
            assert await worker_b.round() == 0  # the lease holds: B may not touch it
            clock.advance(59.9)
            assert await worker_b.round() == 0
            clock.advance(0.2)
            assert await worker_b.round() == 1  # the lease ran out: B delivers
        assert len(hooks.received()) == 1
        assert await outbox.delivered([stuck], clock.now()) == 0  # A's claim is void
        assert await outbox.retry(stuck, due_at=clock.now(), error="late") is False
        (row,) = await outbox_rows(svc)
        assert row.state == "delivered" and row.due_at is None and row.last_error is None

    run(settings, body)


def test_failed_deliveries_back_off_keep_their_id_and_are_given_up_after_three_days(
    make_settings, database_url, hooks
) -> None:
    settings = alert_settings(make_settings, database_url, webhook_urls=hooks.url)

    async def body(svc: Services, clock: FrozenClock) -> None:
        bob = await user_with_email(svc)
        await reuse_event(svc, bob)
        hooks.status = 500
        async with working(svc.events.outbox, settings, clock, rand=lambda: 0.0) as worker:
            waits = []
            for _ in range(4):
                assert await worker.round() == 1
                (row,) = await outbox_rows(svc)
                assert row.state == "pending" and row.last_error == "HTTP 500"
                assert row.due_at is not None
                waits.append(row.due_at - clock.now())
                assert await worker.round() == 0  # not due yet
                clock.advance(waits[-1])
            assert waits == [2.5, 5.0, 10.0, 20.0]
            hooks.status = 200
            assert await worker.round() == 1
            (row,) = await outbox_rows(svc)
            assert row.state == "delivered" and row.attempts == 5
            got = hooks.received()
            assert len(got) == 5 and len({d.headers["webhook-id"] for d in got}) == 1
            for d in got:  # every attempt is signed afresh, and verifies
                Webhook(SECRET).verify(d.body, d.headers)

            hooks.status = 503  # a receiver gone for good
            await reuse_event(svc, bob)
            while (await svc.events.outbox.counts()).get("pending"):
                await worker.round()
                clock.advance(3600)
            rows = await outbox_rows(svc)
            assert rows[-1].state == "failed" and rows[-1].done_at is not None
            assert rows[-1].done_at - rows[-1].created_at >= GIVE_UP_AFTER
            assert rows[-1].attempts > 70  # about hourly once the delay reached its cap

    run(settings, body)


def test_smtp_refusal_for_good_is_given_up_and_smtp_down_is_retried(
    make_settings, database_url, smtp
) -> None:
    settings = alert_settings(
        make_settings,
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_starttls=False,
        smtp_sender="gatepass@example.com",
    )

    async def body(svc: Services, clock: FrozenClock) -> None:
        bob = await user_with_email(svc, email="bob@example.com")
        async with working(svc.events.outbox, settings, clock) as worker:
            smtp.answer = "554 5.7.1 rejected"
            await reuse_event(svc, bob)
            assert await worker.round() == 1
            assert (await outbox_rows(svc))[-1].state == "failed"
            smtp.stop()
            await reuse_event(svc, bob)
            assert await worker.round() == 1
            row = (await outbox_rows(svc))[-1]
            assert row.state == "pending" and row.attempts == 1 and row.last_error

    run(settings, body)


def test_starttls_when_on_is_required_never_skipped(make_settings, database_url, smtp) -> None:
    """The test's SMTP server offers no STARTTLS: with it on, nothing is sent in clear text."""
    settings = alert_settings(
        make_settings,
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_sender="gatepass@example.com",
    )
    assert settings.smtp_starttls

    async def body(svc: Services, clock: FrozenClock) -> None:
        await reuse_event(svc, await user_with_email(svc, email="bob@example.com"))
        async with working(svc.events.outbox, settings, clock) as worker:
            assert await worker.round() == 1
        (row,) = await outbox_rows(svc)
        assert row.state == "pending" and row.last_error
        assert smtp.received() == []

    run(settings, body)


def test_purge_deletes_alerts_done_past_the_retention_and_keeps_pending_ones(
    make_settings, database_url, hooks
) -> None:
    settings = alert_settings(make_settings, database_url, webhook_urls=hooks.url)

    async def body(svc: Services, clock: FrozenClock) -> None:
        bob = await user_with_email(svc)
        await reuse_event(svc, bob)
        async with working(svc.events.outbox, settings, clock) as worker:
            assert await worker.round() == 1
        clock.advance(ALERT_RETENTION - 61)
        await reuse_event(svc, bob)  # stays pending: a minute old at the purges below
        clock.advance(60)
        assert (await purge(svc.sessions, clock.now())).counts["alert_outbox"] == 0
        clock.advance(2)
        assert (await purge(svc.sessions, clock.now())).counts["alert_outbox"] == 1
        assert await svc.events.outbox.counts() == {"pending": 1}
        async with svc.sessions() as s:  # the events themselves are not the outbox's to purge
            assert (await s.execute(select(func.count()).select_from(SecurityEvent))).scalar() == 2

    run(settings, body)


def test_alerts_no_worker_can_send_are_given_up_after_three_days_then_purged(
    make_settings, database_url, hooks
) -> None:
    """Queued for a webhook, then the instance runs without webhooks: no worker claims the
    rows; the purge gives them up once they are three days old, and later deletes them."""
    queued_with = alert_settings(make_settings, database_url, webhook_urls=hooks.url)

    async def body(svc: Services, clock: FrozenClock) -> None:
        bob = await user_with_email(svc)
        await reuse_event(svc, bob)
        await reuse_event(svc, bob)
        held = await svc.events.outbox.claim(
            now=clock.now(), lease=1e6, limit=1, channels=("webhook",)
        )
        assert len(held) == 1  # a claim whose lease outlives the test: never touched
        assert senders_from(make_settings(database_url=database_url)) == {}
        clock.advance(GIVE_UP_AFTER - 1)
        await purge(svc.sessions, clock.now())
        assert await svc.events.outbox.counts() == {"pending": 2}
        clock.advance(2)
        assert (await purge(svc.sessions, clock.now())).counts["alert_outbox"] == 0
        assert await svc.events.outbox.counts() == {"pending": 1, "failed": 1}
        (given_up,) = [r for r in await outbox_rows(svc) if r.state == "failed"]
        assert given_up.id != held[0].id and given_up.due_at is None
        assert given_up.last_error and "no delivery configured" in given_up.last_error
        clock.advance(ALERT_RETENTION + 1)
        assert (await purge(svc.sessions, clock.now())).counts["alert_outbox"] == 1
        assert hooks.received() == []

    run(queued_with, body)


def test_a_webhook_url_removed_from_the_settings_gets_no_more_alerts(
    make_settings, database_url, hooks
) -> None:
    queued_with = alert_settings(make_settings, database_url, webhook_urls=hooks.url)
    other = "http://127.0.0.1:9/elsewhere"
    now_with = alert_settings(make_settings, database_url, webhook_urls=other)

    async def body(svc: Services, clock: FrozenClock) -> None:
        await reuse_event(svc, await user_with_email(svc))
        async with working(svc.events.outbox, now_with, clock) as worker:
            assert await worker.round() == 1
        (row,) = await outbox_rows(svc)
        assert row.state == "failed" and row.target == hooks.url
        assert row.last_error == "the webhook URL is no longer configured"
        assert hooks.received() == []

    run(queued_with, body)
