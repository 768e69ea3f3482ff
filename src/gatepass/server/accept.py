"""The event loop ``gatepass serve`` runs uvicorn on: uvloop, with connections accepted in batches.

libuv (under uvloop) accepts one connection per turn of the event loop since its 1.45
(libuv/libuv#3696, "don't accept() connections in a loop"). A turn of a loaded worker runs every
request that is ready, 20-70 ms with 64 busy connections on this machine, so 64 connections
opened together (a client pool starting, wrk's start) waited in the kernel's accept queue for up
to 64 turns: 0.5-1.5 s before their first request was even read, while every request the app
held took under 50 ms (``bench/README.md``, "Tail latency"). asyncio's own loop accepts up to
the backlog per wake-up, and so does this one: the listening socket is read here, and each
connection handed to uvloop with ``connect_accepted_socket`` (the same transport, TCP_NODELAY
included).

With ``--workers N`` the socket is shared by the workers: a worker then takes at most
``SHARED_BATCH`` connections per wake-up, so that one worker waking first does not take a whole
burst from the others (a busier worker turns more slowly, so takes fewer).

Everything else (TLS, Unix sockets, ``reuse_port``) goes to uvloop's own ``create_server``.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import socket
from collections.abc import Callable
from typing import Any

log = logging.getLogger("gatepass.server")

SHARED_BATCH = 16  # connections a worker accepts per wake-up from a socket shared with others
PAUSE_ON_EXHAUSTION = 1.0  # seconds before accepting again after an error (EMFILE, ENOBUFS)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """For uvicorn's ``loop=`` (an import string naming a loop factory): uvloop with batched
    accepts; asyncio's own loop without uvloop (it accepts in batches already)."""
    return _loop_class()()


@functools.cache
def _loop_class() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.new_event_loop

    class Loop(uvloop.Loop):
        async def create_server(  # type: ignore[override]
            self,
            protocol_factory: Callable[[], asyncio.BaseProtocol],
            host: str | None = None,
            port: int | None = None,
            *,
            sock: socket.socket | None = None,
            backlog: int = 100,
            ssl: Any = None,
            **kwargs: Any,
        ) -> Any:
            if ssl is not None or kwargs or (sock is not None and sock.family == socket.AF_UNIX):
                base: Any = super()
                return await base.create_server(
                    protocol_factory, host, port, sock=sock, backlog=backlog, ssl=ssl, **kwargs
                )
            if sock is not None:  # a worker's share of the parent's socket
                sock.listen(backlog)  # uvicorn's parent binds it; create_server listens
                sock.setblocking(False)  # as uvloop's own would: accept() must never block
                return BatchServer(self, protocol_factory, [sock], SHARED_BATCH, owned=False)
            socks = _listen(host, port or 0, backlog)
            return BatchServer(self, protocol_factory, socks, max(backlog, 1), owned=True)

    return Loop


def _listen(host: str | None, port: int, backlog: int) -> list[socket.socket]:
    """Listening sockets for every address of ``host``, as asyncio's ``create_server`` makes
    them (an address family the machine lacks is skipped, as there)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    socks: list[socket.socket] = []
    try:
        for family, kind, proto, _, addr in dict.fromkeys(infos):
            try:
                s = socket.socket(family, kind, proto)
            except OSError:  # no such family here (IPv6 turned off)
                continue
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind(addr)
            except OSError as exc:
                s.close()
                if exc.errno == errno.EADDRNOTAVAIL:  # the family is not enabled
                    continue
                raise
            socks.append(s)
            s.listen(backlog)
            s.setblocking(False)
    except BaseException:
        for s in socks:
            s.close()
        raise
    if not socks:
        raise OSError(errno.EADDRNOTAVAIL, f"no address to listen on for {host!r}")
    return socks


class BatchServer:
    """What uvicorn needs of an ``asyncio.Server``: ``sockets``, ``close``, ``wait_closed``."""

    def __init__(
        self,
        loop: Any,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        socks: list[socket.socket],
        batch: int,
        *,
        owned: bool,
    ) -> None:
        self._loop = loop
        self._factory = protocol_factory
        self._socks = socks
        self._batch = batch
        self._owned = owned
        self._serving = True
        for s in socks:
            loop.add_reader(s.fileno(), self._accept, s)

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._socks)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    def close(self) -> None:
        if not self._serving:
            return
        self._serving = False
        for s in self._socks:
            self._loop.remove_reader(s.fileno())
            if self._owned:
                s.close()

    async def wait_closed(self) -> None:
        return None  # connections are uvicorn's to close (its shutdown)

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(self._batch):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # none left: the next readiness brings the next
            except ConnectionAbortedError:
                continue
            except OSError as exc:  # out of descriptors or memory: try again in a moment
                log.warning("cannot accept connections for now: %s", exc.strerror)
                self._loop.remove_reader(sock.fileno())
                self._loop.call_later(PAUSE_ON_EXHAUSTION, self._resume, sock)
                return
            conn.setblocking(False)
            task = self._loop.create_task(self._loop.connect_accepted_socket(self._factory, conn))
            task.add_done_callback(_settled)

    def _resume(self, sock: socket.socket) -> None:
        if self._serving:
            self._loop.add_reader(sock.fileno(), self._accept, sock)


def _settled(task: asyncio.Task[Any]) -> None:
    """A connection that failed before its protocol started (reset at once): nothing to answer."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("connection lost before it started", exc_info=task.exception())
