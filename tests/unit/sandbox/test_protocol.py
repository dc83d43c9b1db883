"""protocol: length-prefixed JSON frames with file descriptors, over a socketpair."""

from __future__ import annotations

import os
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from sandbox import protocol


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    with a, b:
        yield a, b


def test_a_message_arrives_whole(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    message = {"op": "run", "n": 3, "nested": {"list": [1, "two", None]}, "text": "ünï"}
    protocol.send(a, message)
    assert protocol.recv(b) == (message, [])


def test_messages_back_to_back_keep_their_boundaries(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    for i in range(50):
        protocol.send(a, {"i": i})
    assert [protocol.recv(b)[0]["i"] for _ in range(50)] == list(range(50))


def test_a_message_larger_than_the_socket_buffer(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    message = {"blob": "x" * (8 << 20)}
    sender = threading.Thread(target=protocol.send, args=(a, message))
    sender.start()
    try:
        assert protocol.recv(b)[0] == message
    finally:
        sender.join()


def test_descriptors_travel_with_their_message_in_order(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    sent = []
    for content in (b"first", b"second", b"third"):
        fd = os.memfd_create("test")
        os.write(fd, content)
        sent.append(fd)
    try:
        protocol.send(a, {"with": "fds"}, sent)
        protocol.send(a, {"without": "fds"})
        message, received = protocol.recv(b)
        assert message == {"with": "fds"}
        try:
            assert [os.pread(fd, 100, 0) for fd in received] == [b"first", b"second", b"third"]
        finally:
            for fd in received:
                os.close(fd)
        assert protocol.recv(b) == ({"without": "fds"}, [])
    finally:
        for fd in sent:
            os.close(fd)


def test_end_of_stream_raises_channel_closed(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    a.shutdown(socket.SHUT_WR)
    with pytest.raises(protocol.ChannelClosed):
        protocol.recv(b)


def test_end_of_stream_in_the_middle_of_a_message_raises_channel_closed(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    a.sendall(struct.pack("!I", 100) + b'{"trunc')
    a.shutdown(socket.SHUT_WR)
    with pytest.raises(protocol.ChannelClosed):
        protocol.recv(b)


def test_a_header_arriving_in_pieces_is_reassembled(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    body = b'{"slow":true}'
    frame = struct.pack("!I", len(body)) + body

    def dribble() -> None:
        for i in range(len(frame)):
            a.send(frame[i : i + 1])

    sender = threading.Thread(target=dribble)
    sender.start()
    try:
        assert protocol.recv(b)[0] == {"slow": True}
    finally:
        sender.join()


def test_an_oversized_length_is_refused_before_reading_the_body(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    a.sendall(struct.pack("!I", protocol.MAX_MESSAGE_BYTES + 1))
    with pytest.raises(ValueError, match="over the"):
        protocol.recv(b)


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"3"])
def test_a_message_must_be_a_json_object(pair: tuple[socket.socket, socket.socket], body: bytes) -> None:
    a, b = pair
    a.sendall(struct.pack("!I", len(body)) + body)
    with pytest.raises(ValueError, match="JSON object"):
        protocol.recv(b)
