"""Refuse request bodies larger than the biggest valid request, before reading them into memory,
and bodies that take too long to arrive.

The field-level caps (source, files, stdin) give precise messages; this is the outer wall that
keeps a client from making the server buffer an unbounded body first, or hold a connection open
by sending it a byte at a time (a slow client gets 408 once the body's deadline has passed).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    def __init__(
        self, app: ASGIApp, *, max_bytes: int, per_path: Mapping[str, int] | None = None, timeout_s: float
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = dict(per_path or {})
        """Smaller maximums for some paths (a single run needs a fraction of a batch's)."""
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.per_path.get(scope.get("path", ""), self.max_bytes)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(send, max_bytes)
            return
        try:
            async with asyncio.timeout(self.timeout_s):
                body = await self._read(receive, max_bytes)
        except TimeoutError:
            await _answer(send, 408, f"The request body did not arrive within {self.timeout_s:g} s.")
            return
        if body is None:
            await self._refuse(send, max_bytes)
        elif body["type"] != "http.request":  # the client went away
            await self.app(scope, _replay([body]), send)
        else:
            await self.app(scope, _replay([body], then=receive), send)

    async def _read(self, receive: Receive, max_bytes: int) -> Message | None:
        """The whole body as one message (the app would buffer it anyway), counted as it arrives
        (a chunked upload cannot announce its size); None past max_bytes."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    async def _refuse(self, send: Send, max_bytes: int) -> None:
        await _answer(
            send,
            413,
            f"The request body is over this server's maximum of {max_bytes} bytes for this "
            "request; send less (smaller sources or stdin, or fewer runs per batch).",
        )


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail, "errors": []}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """A receive() that returns the buffered messages, then defers to the real one."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
