"""A small pool of asyncpg connections for the hot statements (``storage/token_rows``,
``storage/code_rows``): a statement takes an idle connection, runs, and puts it back.

asyncpg's own ``Pool`` costs about 80 us of the client's CPU per statement (check-out through an
``asyncio.Queue``, a shielded release with its timeout budget, the holder's bookkeeping): 124
against 38 us for ``SELECT $1`` at 64 concurrent tasks (``bench/README.md``, "Refresh rotation on
PostgreSQL"). A refresh runs two statements, so that was 160 us of a request. This pool keeps
what the hot statements need and nothing else:

* up to ``max_size`` connections, opened on first use (an idle instance holds none), each with
  ``server_settings``; more callers than that wait in line, first come first served;
* no reset query when a connection goes back (the statements leave no session state: no SET,
  LISTEN, cursor, advisory lock or explicit transaction);
* a connection whose statement did not end with an answer from the server (cancelled, timed out,
  connection lost) is closed, never reused: it might be mid-protocol. A statement the server
  refused (``asyncpg.PostgresError``: a duplicate key) leaves it usable, its implicit
  transaction rolled back.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import asyncpg


class PgPool:
    def __init__(
        self, dsn: str, *, max_size: int = 10, server_settings: dict[str, str] | None = None
    ) -> None:
        self._dsn = dsn
        self._max = max_size
        self._settings = dict(server_settings or {})
        self._idle: list[Any] = []  # last in, first out: the warmest connection first
        self._size = 0  # open or opening connections
        # callers waiting for a connection: resolved with one, or with None (a slot is free:
        # open one yourself)
        self._waiters: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._closed = False

    # Each statement method returns the coroutine of ``_run`` (no frame of its own in between).
    def fetchrow(self, query: str, *args: Any) -> Coroutine[Any, Any, Any]:
        return self._run(asyncpg.Connection.fetchrow, query, *args)

    def fetch(self, query: str, *args: Any) -> Coroutine[Any, Any, list[Any]]:
        return self._run(asyncpg.Connection.fetch, query, *args)

    def fetchmany(self, query: str, calls: list[tuple[Any, ...]]) -> Coroutine[Any, Any, list[Any]]:
        """``query`` once per argument tuple, pipelined before one Sync: one round trip, one
        implicit transaction (all committed or none), the rows of every call in order."""
        return self._run(asyncpg.Connection.fetchmany, query, calls)

    def fetchval(self, query: str, *args: Any) -> Coroutine[Any, Any, Any]:
        return self._run(asyncpg.Connection.fetchval, query, *args)

    def execute(self, query: str, *args: Any) -> Coroutine[Any, Any, str]:
        return self._run(asyncpg.Connection.execute, query, *args)

    async def _run(self, method: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """One statement (``method`` of asyncpg's Connection) on a connection taken for it."""
        connection = await self._take()
        try:
            found = await method(connection, *args)
        except BaseException as exc:
            self._after_error(connection, exc)
            raise
        self._give_back(connection)
        return found

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        """One connection for several statements (tests, tools); a transaction left open on it
        closes it."""
        connection = await self._take()
        try:
            yield connection
        except BaseException as exc:
            self._after_error(connection, exc)
            raise
        self._give_back(connection)

    async def close(self) -> None:
        """Close the idle connections now, the others as they come back."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            self._size -= 1
            try:
                await connection.close(timeout=5)
            except Exception:  # noqa: BLE001 - a connection already gone is closed enough
                connection.terminate()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(asyncpg.InterfaceError("the pool is closed"))

    async def _take(self) -> Any:
        while True:
            if self._closed:
                raise asyncpg.InterfaceError("the pool is closed")
            while self._idle:
                connection = self._idle.pop()
                if not connection.is_closed():
                    return connection
                self._size -= 1  # closed while idle (the server went away): open another
            if self._size < self._max:
                self._size += 1
                try:
                    return await asyncpg.connect(self._dsn, server_settings=self._settings)
                except BaseException:
                    self._size -= 1
                    self._free_slot()
                    raise
            waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                given = await waiter
            except asyncio.CancelledError:
                # handed a connection (or a slot) just as this caller was cancelled: pass it on
                if waiter.done() and not waiter.cancelled():
                    given = waiter.result()
                    if given is None:
                        self._free_slot()
                    else:
                        self._give_back(given)
                raise
            if given is not None:
                return given

    def _give_back(self, connection: Any) -> None:
        if self._closed or connection.is_closed() or connection.is_in_transaction():
            self._drop(connection)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append(connection)

    def _after_error(self, connection: Any, exc: BaseException) -> None:
        if isinstance(exc, asyncpg.PostgresError):  # the server answered: the connection is fine
            self._give_back(connection)
        else:
            self._drop(connection)

    def _drop(self, connection: Any) -> None:
        connection.terminate()
        self._size -= 1
        self._free_slot()

    def _free_slot(self) -> None:
        """A connection slot came free: the first waiter opens a connection in it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
