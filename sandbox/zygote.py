"""The zygote: a small, idle process whose only job is to fork containers into new pid namespaces.

Forking copies nothing at first; pages are copied when either side writes to them (copy on
write), for as long as both live. A container lives for its whole preparation and run, so a busy
parent (the launcher: event loop, JSON, sockets) would pay a page fault and a copy for nearly
every page it touches while any container is alive. The zygote is forked from the launcher once,
right after start-up, and does almost nothing between forks: it decodes only what all containers
of a kind share (ContainerKind: the mount plan above all), once per kind, so that the containers
share the decoded objects instead of each building (so copying pages for) its own; the child
decodes the rest. The launcher forks nothing.

    launcher --(kind, container) + control, job, stdout, stderr[, netns] fds--> zygote
    launcher <--{"pid": N} + pidfd--------------------------------------- zygote

It also prepares, once, what every container shares read-only: /dev (a small tmpfs with null,
zero, full, random, urandom and the fd links, then read-only), in its own mount namespace, which
each container copies when it unshares its own.

Children are reaped here without waiting (WNOHANG) before each fork; the launcher learns of their
end from their pidfd, which becomes readable when they exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from typing import NoReturn

from sandbox import _libc, container, mounts, namespaces, protocol
from sandbox.errors import SetupError

# Decoded container kinds kept (a launcher keeps containers prepared for a few kinds only).
_KINDS_KEPT = 8


def serve(sock: socket.socket, shared_dev: str) -> NoReturn:
    """The zygote's whole life (it is a fork of the launcher and never returns to its code)."""
    try:
        _libc.prctl(_libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        # Inherited by every container's init, which as PID 1 must not run Python handlers: a
        # program could interrupt it with `kill -INT 1`. (The launcher ignores SIGINT already.)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # Inherited too: a program sees its init as `jaula-init`, not our command line.
        _libc.set_process_title("jaula-init")
        own_pidns = namespaces.own_pid_namespace()
        try:
            _libc.unshare(_libc.CLONE_NEWNS)
            mounts.apply(mounts.plan_shared_dev(shared_dev))
            ready: dict[str, object] = {"ready": True}
        except (OSError, mounts.StepFailed) as exc:
            step = exc.step if isinstance(exc, mounts.StepFailed) else "unshare the zygote's mounts"
            error = exc.error if isinstance(exc, mounts.StepFailed) else exc
            ready = {"error": SetupError.from_oserror(step, error).to_json()}
        protocol.send(sock, ready)
        kinds: dict[bytes, container.ContainerKind] = {}
        while True:
            _reap_exited()
            try:
                body, fds = protocol.recv_raw(sock)
            except (protocol.ChannelClosed, OSError):
                os._exit(0)
            try:
                kind_blob, own = protocol.split_parts(body)
                kind = _kind(kinds, kind_blob)
                pid, pidfd = _fork_container(kind, own, fds, sock, own_pidns)
            except OSError as exc:
                protocol.send(sock, {"error": SetupError.from_oserror("fork the container", exc).to_json()})
                continue
            except (ValueError, TypeError, EOFError) as exc:  # not what the launcher sends
                protocol.send(sock, {"error": SetupError("decode the container", detail=repr(exc)).to_json()})
                continue
            finally:
                for fd in fds:
                    os.close(fd)
            protocol.send_json_text(sock, b'{"pid":%d}' % pid, [pidfd])
            os.close(pidfd)
    finally:
        os._exit(1)


def _kind(kinds: dict[bytes, container.ContainerKind], blob: bytes) -> container.ContainerKind:
    """The decoded kind, from the few most recently used (a compiled submission's artefact is a
    kind of its own: a long-lived zygote sees thousands of them)."""
    kind = kinds.pop(blob, None) or container.ContainerKind.decode(blob)
    kinds[blob] = kind  # most recent last
    if len(kinds) > _KINDS_KEPT:
        del kinds[next(iter(kinds))]
    return kind


def _fork_container(
    kind: container.ContainerKind, own: bytes, fds: list[int], sock: socket.socket, own_pidns: int
) -> tuple[int, int]:
    # unshare(CLONE_NEWPID) applies to our next child only: it becomes PID 1 of a new namespace.
    # We return to our own namespace right after, so that the next unshare starts from ours.
    _libc.unshare(_libc.CLONE_NEWPID)
    try:
        pid = os.fork()
    except BaseException:
        namespaces.restore_pid_namespace(own_pidns)
        raise
    if pid == 0:
        try:
            sock.close()
            os.close(own_pidns)
            container.init_main(container.ContainerConfig.decode(kind, own, fds))
        finally:
            os._exit(1)
    namespaces.restore_pid_namespace(own_pidns)
    # Not reaped before this: the pid cannot have been reused yet.
    return pid, os.pidfd_open(pid)


def _reap_exited() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
