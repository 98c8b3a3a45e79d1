"""Helpers for the hardening tests: a raw-socket client and a toy app under the middleware.

httpx cannot send a request whose body is refused half-way (it keeps writing and then
fails on the broken pipe), so ``send_raw`` writes the head and body chunks itself and
stops writing as soon as the server has answered.
"""

from __future__ import annotations

import asyncio
import select
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson
from live_support import HOST

from prodline.errors import ProdlineError

__all__ = ["RawAnswer", "render", "send_raw", "toy_app"]


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    sent: int  # body bytes written before the answer came (or the server hung up)
    closed: bool  # the server closed the connection after answering

    def json(self) -> Any:
        return orjson.loads(self.body)


def send_raw(
    port: int,
    head: bytes,
    chunks: Iterable[bytes] = (),
    *,
    timeout_s: float = 20,
) -> RawAnswer:
    """Write ``head`` then ``chunks`` until the server answers; read the answer."""
    t0 = time.monotonic()
    sock = socket.create_connection((HOST, port), timeout=timeout_s)
    sent = 0
    try:
        sock.sendall(head)
        for chunk in chunks:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        data = b""
        closed = False
        while b"\r\n\r\n" not in data:
            more = sock.recv(65536)
            if not more:
                break
            data += more
        top, _, body = data.partition(b"\r\n\r\n")
        lines = top.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            more = sock.recv(65536)
            if not more:
                break
            body += more
        try:
            sock.settimeout(2)
            closed = sock.recv(1) == b""
        except ConnectionResetError:
            # Closing a socket with unread bytes in its buffer sends RST, not FIN.
            closed = True
        except TimeoutError:
            closed = False
    finally:
        sock.close()
    status = int(lines[0].split()[1]) if lines and lines[0] else 0
    return RawAnswer(status, headers, body, time.monotonic() - t0, sent, closed)


def post_head(path: str, length: int | None, *, extra: str = "") -> bytes:
    """The head of a JSON POST; ``length`` None: chunked transfer encoding."""
    size = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"{size}\r\n{extra}\r\n"
    ).encode()


def chunked(total: int, size: int = 64 * 1024) -> Iterable[bytes]:
    """``total`` bytes of a JSON string body, in HTTP chunks of ``size``."""
    piece = b"a" * size
    frame = f"{size:x}\r\n".encode() + piece + b"\r\n"
    for _ in range(total // size):
        yield frame
    yield b"0\r\n\r\n"


def render(exc: ProdlineError, status: int) -> bytes:
    return orjson.dumps(exc.to_dict())


async def toy_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``/slow?s=N`` answers after N s; ``/stream?s=N`` starts, waits N s, then ends;
    ``/cached`` sets its own Cache-Control; anything else echoes the body length."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    query = parse_qs(scope.get("query_string", b"").decode())
    wait = float(query.get("s", ["0"])[0])
    path = scope["path"]
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    headers = [(b"content-type", b"application/json")]
    if path == "/cached":
        headers.append((b"cache-control", b"max-age=60"))
    if path == "/slow":
        await asyncio.sleep(wait)
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if path == "/stream":
        await send({"type": "http.response.body", "body": b'{"part": 1', "more_body": True})
        await asyncio.sleep(wait)
    else:
        await send({"type": "http.response.body", "body": orjson.dumps({"size": size})})
        return
    await send({"type": "http.response.body", "body": b"}"})
