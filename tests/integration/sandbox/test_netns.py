"""The launcher's network namespaces (sandbox/netns.py): a namespace is lent again only if the
run before left no trace in it. Each case does something a program could do, inside a namespace
of the pool, and checks whether the pool keeps it."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator

import pytest

from sandbox import Sandbox, Verdict, _libc
from sandbox.netns import MAX_USES, NetnsPool
from tests.integration.sandbox.support import RunFn


@pytest.fixture
def pool() -> Iterator[NetnsPool]:
    netns = NetnsPool(keep=4)
    yield netns
    netns.close()


@contextlib.contextmanager
def inside(fd: int) -> Iterator[None]:
    """This thread in the namespace `fd` (network namespaces are per thread)."""
    home = open("/proc/thread-self/ns/net", "rb")  # noqa: SIM115 (closed below)
    _libc.setns(fd, _libc.CLONE_NEWNET)
    try:
        yield
    finally:
        _libc.setns(home.fileno(), _libc.CLONE_NEWNET)
        home.close()


def udp_to_loopback() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"x", ("127.0.0.1", 9))


def udp6_to_loopback() -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.sendto(b"x", ("::1", 9))


def udp6_connect_without_sending() -> None:
    """No packet, no counter: but the route it looked up stays cached in the namespace, and a
    later run could read it (/proc/net/rt6_stats, ipv6_route)."""
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.connect(("::1", 9))


def tcp_refused() -> None:
    with socket.socket() as s, contextlib.suppress(ConnectionRefusedError):
        s.connect(("127.0.0.1", 1))


def unroutable() -> None:
    """No packet moves: the route lookup fails, but a counter (OutNoRoutes) does not forget."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, contextlib.suppress(OSError):
        s.sendto(b"x", ("192.0.2.1", 9))


def tcp_time_wait() -> None:
    """A whole connection, closed: its TIME_WAIT socket outlives every process."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        client.close()
        accepted.close()


def nothing() -> None:
    pass


def sockets_opened_and_closed() -> None:
    """Sockets that are never bound, connected or sent on leave nothing behind. (A bind may:
    some kernels count the route lookup it makes, in fib_triestat.)"""
    socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
    socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).close()


@pytest.mark.parametrize(
    ("action", "kept"),
    [
        (nothing, True),
        (sockets_opened_and_closed, True),
        (udp_to_loopback, False),
        (udp6_to_loopback, False),
        (udp6_connect_without_sending, False),
        (tcp_refused, False),
        (unroutable, False),
        (tcp_time_wait, False),
    ],
)
def test_a_namespace_is_kept_only_if_nothing_in_it_changed(
    pool: NetnsPool, action: Callable[[], None], kept: bool
) -> None:
    fd = pool.take()
    with inside(fd):
        action()
    pool.give_back(fd)
    pool.take()
    if kept:
        assert pool.status() == {"free": 0, "made": 1, "reused": 1, "dropped": 0}
    else:
        assert pool.status() == {"free": 0, "made": 2, "reused": 0, "dropped": 1}


def test_a_socket_left_open_keeps_the_namespace_from_being_reused(pool: NetnsPool) -> None:
    fd = pool.take()
    with inside(fd):
        left_open = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        pool.give_back(fd)
        assert pool.status() == {"free": 0, "made": 1, "reused": 0, "dropped": 1}
    finally:
        left_open.close()


def test_a_new_namespace_has_only_loopback_and_it_is_up(pool: NetnsPool) -> None:
    with inside(pool.take()), open("/proc/thread-self/net/dev") as dev:
        interfaces = [line.split(":")[0].strip() for line in dev.readlines()[2:]]
        assert interfaces == ["lo"]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("127.0.0.1", 9))  # fails with ENETUNREACH while lo is down


def test_a_namespace_serves_a_bounded_number_of_containers(pool: NetnsPool) -> None:
    for _ in range(MAX_USES):
        pool.give_back(pool.take())  # the same namespace each time, until its last use
    assert pool.status() == {"free": 0, "made": 1, "reused": MAX_USES - 1, "dropped": 1}


def test_the_pool_keeps_at_most_its_size(pool: NetnsPool) -> None:
    taken = [pool.take() for _ in range(pool.keep + 2)]
    for fd in taken:
        pool.give_back(fd)
    assert pool.status()["free"] == pool.keep
    assert pool.status()["dropped"] == 2


def test_runs_that_do_not_use_the_network_share_few_namespaces(sb: Sandbox, run: RunFn) -> None:
    before = sb.status()["network_namespaces"]
    for _ in range(10):
        assert run("true").verdict == Verdict.OK
    sb.sync()
    after = sb.status()["network_namespaces"]
    assert after["reused"] - before["reused"] >= 8, (before, after)
    assert after["dropped"] == before["dropped"]
