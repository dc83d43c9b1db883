"""HTTP/1.1 by hand over one kept-alive asyncio connection, for where the connection itself is the
point: a load generator that must cost its machine little (bench/service.py; httpx spends ~2.4 ms
of CPU per request on the cores it shares with the service), a test of what the server does with
a connection left idle (tests/integration/service/test_up.py).

Requests carry Content-Length, answers are read by theirs: enough for jaula's API, which never
answers in chunks; not a general client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class ConnectionClosed(ConnectionError):
    """The server closed the connection instead of answering."""


def request(method: str, host: str, port: int, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return f"{head}\r\n".encode() + body


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, message: bytes
) -> tuple[int, bytes]:
    """Send one request on the connection and read its answer: (status, body)."""
    writer.write(message)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionClosed("the server closed the connection")
    status = int(status_line.split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


def run_apart(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own: a test process may already have an event loop running
    in its main thread (Playwright's sync API leaves one), where asyncio.run refuses to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
