"""A lean keep-alive HTTP/1.1 client for the load generators written in Python (``soak.py``,
``authorize.py``): httptools parses the answers, a few µs of the generator's CPU per request
where httpx takes milliseconds. A generator that cannot keep its pace measures itself, not the
server: ``authorize.py`` on httpx used a whole core for about 150 flows/s while the servers used
under 0.65."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httptools

TIMEOUT = 30.0  # seconds for one answer; longer is an error
IDLE = 2.0  # seconds a kept-alive connection is reused after (uvicorn closes them after 5)
NETWORK = (OSError, TimeoutError, asyncio.IncompleteReadError, httptools.HttpParserError)


class Answer:
    """An HTTP/1.1 answer: what the checks read of it."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status_code = status
        self.raw_headers = headers
        self.content = body

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.raw_headers if k == name), None)

    def headers_named(self, name: str) -> list[str]:
        return [v for k, v in self.raw_headers if k == name]


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.done = False
        self.parser = httptools.HttpResponseParser(self)
        self.used = time.monotonic()
        self.status_seen = False  # some of an answer has come on this exchange

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.done = True

    async def exchange(self, request: bytes) -> Answer:
        self.status, self.headers, self.body, self.done = 0, [], [], False
        self.status_seen = False
        self.writer.write(request)
        while not self.done:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("connection closed by the server")
            self.status_seen = True
            self.parser.feed_data(data)
        return Answer(self.parser.get_status_code(), self.headers, b"".join(self.body))


class Client:
    """Keep-alive HTTP/1.1 to one loopback server, at most ``size`` connections: a few µs of
    this process's CPU per request, where httpx takes milliseconds (an open-loop generator that
    cannot keep its own pace measures itself, not the server)."""

    def __init__(self, base: str, size: int) -> None:
        u = urlsplit(base)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.hostport = f"{self.host}:{self.port}"
        self.idle: list[_Conn] = []
        self.slots = asyncio.Semaphore(size)

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
        json_body: Any = None,
        auth: tuple[str, str] | None = None,
    ) -> Answer:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.hostport}"]
        body = b""
        if data is not None:
            body = urlencode(data).encode()
            lines.append("Content-Type: application/x-www-form-urlencoded")
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            lines.append("Content-Type: application/json")
        if method != "GET":
            lines.append(f"Content-Length: {len(body)}")
        if auth is not None:
            raw = f"{quote(auth[0], safe='')}:{quote(auth[1], safe='')}".encode()
            lines.append("Authorization: Basic " + base64.b64encode(raw).decode())
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        async with self.slots:
            # a connection idle for longer than the server keeps one open may be closed under
            # us: dropped here, and one that fails before any answer is retried once on a new one
            now = time.monotonic()
            while self.idle and now - self.idle[-1].used > IDLE:
                self.idle.pop().writer.close()
            conn = self.idle.pop() if self.idle else None
            reused = conn is not None
            while True:
                if conn is None:
                    conn = _Conn(*await asyncio.open_connection(self.host, self.port))
                try:
                    async with asyncio.timeout(TIMEOUT):
                        answer = await conn.exchange(request)
                    break
                except (ConnectionError, OSError) as e:
                    conn.writer.close()
                    if not reused or conn.status_seen:
                        raise e
                    conn, reused = None, False
                except BaseException:
                    conn.writer.close()
                    raise
            if (answer.header("connection") or "").lower() == "close":
                conn.writer.close()
            else:
                conn.used = time.monotonic()
                self.idle.append(conn)
            return answer

    async def close(self) -> None:
        for conn in self.idle:
            conn.writer.close()
        self.idle.clear()
