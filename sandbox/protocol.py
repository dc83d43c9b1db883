"""Messages between the client, the launcher and the container processes.

A message is a frame: 4-byte big-endian length, then the body. File descriptors travel with the
frame header as SCM_RIGHTS ancillary data. Stream sockets (socketpairs) carry them, so a message
can be as large as a job's files. Two encodings of a dict:

    send / recv                  JSON. Safe to decode whatever the sender; used everywhere a
                                 message comes out of a container or is rare.
    send_inward / recv_inward    marshal. Only towards a container (launcher -> zygote -> init,
                                 client -> init), where the sender is jaula's own code: marshal
                                 decodes several times faster and, in a freshly forked process,
                                 touches (so copies) a third as many pages as JSON.
"""

from __future__ import annotations

import json
import marshal
import os
import socket
import struct
from typing import Any

_HEADER = struct.Struct("!I")
MAX_MESSAGE_BYTES = 1 << 30
MAX_FDS = 8


class ChannelClosed(EOFError):
    """The other end went away."""


def send(sock: socket.socket, message: dict[str, Any], fds: list[int] | tuple[int, ...] = ()) -> None:
    _send_frame(sock, json.dumps(message, separators=(",", ":")).encode(), fds)


def send_inward(sock: socket.socket, message: dict[str, Any], fds: list[int] | tuple[int, ...] = ()) -> None:
    _send_frame(sock, marshal.dumps(message), fds)


def recv_inward(sock: socket.socket) -> tuple[dict[str, Any], list[int]]:
    body, fds = recv_raw(sock)
    return decode_inward(body), fds


def decode_inward(body: bytes) -> dict[str, Any]:
    message = marshal.loads(body)
    if not isinstance(message, dict):
        raise ValueError("a message must be a dict")
    return message


def send_parts(
    sock: socket.socket, first: bytes, second: bytes, fds: list[int] | tuple[int, ...] = ()
) -> None:
    """Two opaque byte strings in one message (split_parts takes them apart again)."""
    _send_frame(sock, _HEADER.pack(len(first)) + first + second, fds)  # a length, as a frame's


def split_parts(body: bytes) -> tuple[bytes, bytes]:
    (size,) = _HEADER.unpack_from(body)
    start = _HEADER.size
    return body[start : start + size], body[start + size :]


def send_json_text(sock: socket.socket, body: bytes, fds: list[int] | tuple[int, ...] = ()) -> None:
    """A message already encoded as JSON. The zygote and the container's init build their few
    messages as text: the JSON encoder writes to many objects, and in a process that shares its
    pages with another (after a fork) every page written is a page copied."""
    _send_frame(sock, body, fds)


def _send_frame(sock: socket.socket, body: bytes, fds: list[int] | tuple[int, ...]) -> None:
    frame = _HEADER.pack(len(body)) + body
    sent = socket.send_fds(sock, [frame], list(fds)) if fds else sock.send(frame)
    if sent < len(frame):
        sock.sendall(frame[sent:])


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise ChannelClosed("connection closed in the middle of a message")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def recv(sock: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """Receive one message and the descriptors sent with it (the caller owns and closes them)."""
    body, fds = recv_raw(sock)
    return decode(body), fds


def decode(body: bytes) -> dict[str, Any]:
    message = json.loads(body)
    if not isinstance(message, dict):
        raise ValueError("a message must be a JSON object")
    return message


def recv_raw(sock: socket.socket) -> tuple[bytes, list[int]]:
    """A message's undecoded body, and its descriptors (to decode it later, or elsewhere)."""
    # Close-on-exec from the start: a received descriptor must never reach a program by accident.
    header, fds, _flags, _addr = socket.recv_fds(sock, _HEADER.size, MAX_FDS, socket.MSG_CMSG_CLOEXEC)
    if not header:
        for fd in fds:
            os.close(fd)
        raise ChannelClosed("connection closed")
    if len(header) < _HEADER.size:
        header += _recv_exact(sock, _HEADER.size - len(header))
    (size,) = _HEADER.unpack(header)
    if size > MAX_MESSAGE_BYTES:
        raise ValueError(f"message of {size} bytes is over the {MAX_MESSAGE_BYTES} byte limit")
    return _recv_exact(sock, size), fds
