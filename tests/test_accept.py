"""``gatepass serve``'s event loop (server/accept.py): connections waiting to be accepted are taken
in one wake-up (libuv alone takes one per turn of the loop), at most SHARED_BATCH from a socket
shared with other workers; they are served like uvloop's own; closing stops listening."""

from __future__ import annotations

import asyncio
import socket

import pytest

from gatepass.server import accept


class Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[attr-defined]


def _connect(port: int, n: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]


def _pending(sock: socket.socket) -> int:
    """How many connections still wait in ``sock``'s accept queue (taken and closed here)."""
    left = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return left
        conn.close()
        left += 1


def _run(body):  # type: ignore[no-untyped-def]
    loop = accept.new_event_loop()
    try:
        return loop.run_until_complete(body(loop))
    finally:
        loop.close()


def test_every_waiting_connection_is_taken_in_one_wake_up() -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        server = await loop.create_server(Echo, "127.0.0.1", 0, backlog=128)
        (sock,) = server.sockets
        clients = _connect(sock.getsockname()[1], 40)
        try:
            server._accept(sock)  # type: ignore[attr-defined] - one readiness event
            assert _pending(sock) == 0
        finally:
            server.close()
            for c in clients:
                c.close()

    _run(body)


def test_a_shared_socket_gives_each_worker_a_batch() -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        shared = socket.socket()  # bound, blocking, not listening: as uvicorn's parent hands it
        shared.bind(("127.0.0.1", 0))
        server = await loop.create_server(Echo, sock=shared, backlog=128)
        clients = _connect(shared.getsockname()[1], 40)
        try:
            server._accept(shared)  # type: ignore[attr-defined]
            assert _pending(shared) == 40 - accept.SHARED_BATCH
        finally:
            server.close()
            shared.close()  # the parent's, not the worker's to close
            for c in clients:
                c.close()

    _run(body)


def test_connections_are_served_and_close_stops_listening() -> None:
    async def body(loop: asyncio.AbstractEventLoop) -> None:
        server = await loop.create_server(Echo, "127.0.0.1", 0, backlog=128)
        port = server.sockets[0].getsockname()[1]
        streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
        for i, (reader, writer) in enumerate(streams):
            writer.write(f"ping {i}\n".encode())
        for i, (reader, writer) in enumerate(streams):
            assert await reader.readline() == f"ping {i}\n".encode()
            writer.close()
        server.close()
        await server.wait_closed()
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)

    _run(body)
