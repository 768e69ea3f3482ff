"""storage/coalesce.py: calls of one loop turn become one batch; each caller gets its own
answer; a failing batch is retried call by call so only the bad call fails."""

from __future__ import annotations

import asyncio

import pytest

from gatepass.storage.coalesce import Coalesce


def test_calls_of_one_turn_share_one_batch_and_get_their_own_answers() -> None:
    batches: list[list[int]] = []

    async def run_many(keys: list[int]) -> list[int]:
        batches.append(keys)
        await asyncio.sleep(0)
        return [k * 10 for k in keys]

    async def main() -> None:
        square = Coalesce(run_many)
        first = await asyncio.gather(*(square(k) for k in range(5)))
        second = await square(7)
        assert first == [0, 10, 20, 30, 40] and second == 70

    asyncio.run(main())
    assert batches == [[0, 1, 2, 3, 4], [7]]


def test_a_failing_batch_fails_only_its_bad_call() -> None:
    async def run_many(keys: list[int]) -> list[int]:
        if 3 in keys:
            raise ValueError("duplicate key 3")
        return keys

    async def main() -> None:
        echo = Coalesce(run_many, split_on=(ValueError,))
        got = await asyncio.gather(*(echo(k) for k in range(6)), return_exceptions=True)
        assert got[:3] == [0, 1, 2] and got[4:] == [4, 5]
        assert isinstance(got[3], ValueError)

    asyncio.run(main())


def test_any_other_failure_reaches_every_caller_without_a_retry_each() -> None:
    """A database that is down fails the whole batch once, not once per call."""
    batches: list[list[int]] = []

    async def run_many(keys: list[int]) -> list[int]:
        batches.append(keys)
        raise ConnectionRefusedError("down")

    async def main() -> None:
        echo = Coalesce(run_many, split_on=(ValueError,))
        got = await asyncio.gather(*(echo(k) for k in range(5)), return_exceptions=True)
        assert all(isinstance(g, ConnectionRefusedError) for g in got)

    asyncio.run(main())
    assert batches == [[0, 1, 2, 3, 4]]


def test_a_cancelled_batch_cancels_its_callers_instead_of_leaving_them_waiting() -> None:
    async def main() -> None:
        async def run_many(keys: list[int]) -> list[int]:
            raise asyncio.CancelledError

        echo = Coalesce(run_many)
        got = await asyncio.wait_for(
            asyncio.gather(*(echo(k) for k in range(3)), return_exceptions=True), timeout=5
        )
        assert all(isinstance(g, asyncio.CancelledError) for g in got)

    asyncio.run(main())


def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    async def main() -> None:
        gate = asyncio.Event()

        async def run_many(keys: list[int]) -> list[int]:
            await gate.wait()
            return keys

        echo = Coalesce(run_many)
        calls = [asyncio.ensure_future(echo(k)) for k in range(3)]
        await asyncio.sleep(0.01)
        calls[1].cancel()
        gate.set()
        assert await calls[0] == 0 and await calls[2] == 2
        with pytest.raises(asyncio.CancelledError):
            await calls[1]
        await echo.drain()

    asyncio.run(main())
