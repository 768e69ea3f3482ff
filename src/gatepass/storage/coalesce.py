"""Calls that arrive in the same turn of the event loop go to the database as one statement.

Under load, many requests reach the same statement at once (store this opaque token, read that
one). ``Coalesce(run_many)`` turns those calls into one ``run_many(keys)``: one commit, one
round trip, one statement for the database to parse and plan. Each caller still gets its own
answer, and only after the whole batch is done (committed, for a write). When the batch fails
on one bad call (a duplicate key), its calls run again one by one, so that call fails alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K")
R = TypeVar("R")


class Coalesce(Generic[K, R]):
    """``split_on``: the errors of one bad call (a duplicate key) after which the batch is run
    again call by call; any other error (a database that is down) goes to every caller at once,
    without retrying each against the same failure."""

    def __init__(
        self,
        run_many: Callable[[list[K]], Awaitable[Sequence[R]]],
        *,
        split_on: tuple[type[Exception], ...] = (),
    ) -> None:
        self._run_many = run_many
        self._split_on = split_on
        self._pending: list[tuple[K, asyncio.Future[R]]] = []
        self._flushing: set[asyncio.Task[None]] = set()

    async def __call__(self, key: K) -> R:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[R] = loop.create_future()
        self._pending.append((key, answer))
        if len(self._pending) == 1:  # the first of this turn: flush once the turn is over
            task = loop.create_task(self._flush())
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)
        return await answer

    async def drain(self) -> None:
        """Wait for every batch in flight (before closing the connection under it)."""
        while self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)

    async def _flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            results = await self._run_many([key for key, _ in batch])
        except BaseException as exc:  # handed to the callers, never lost (cancelled too)
            if isinstance(exc, self._split_on) and len(batch) > 1:
                await self._one_by_one(batch)
            else:
                for _, answer in batch:
                    _settle(answer, exc=exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, answer), result in zip(batch, results, strict=True):
            _settle(answer, result)

    async def _one_by_one(self, batch: list[tuple[K, asyncio.Future[R]]]) -> None:
        for key, answer in batch:  # only the bad call fails
            try:
                (result,) = await self._run_many([key])
            except Exception as one:  # noqa: BLE001 - handed to its caller
                _settle(answer, exc=one)
            else:
                _settle(answer, result)


def _settle(
    answer: asyncio.Future[R], result: R | None = None, *, exc: BaseException | None = None
) -> None:
    if answer.done():  # the waiting request was cancelled
        return
    if exc is not None:
        answer.set_exception(exc)
    else:
        answer.set_result(result)  # type: ignore[arg-type]
