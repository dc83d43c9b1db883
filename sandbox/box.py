"""/box, the job's directory: made by the container's init, filled with the job's files, copied out.

The init makes /box as root (after pivot_root and after the host's root is detached) over a tree
that earlier untrusted code may have shaped (a compile run's output is a layer of the next run),
and writes the job's files as the program's own unprivileged user. The copy out is done as root
on the host, through /proc/<pid>/root, once every process of the run is dead. So nothing here
follows a symlink: every open is O_NOFOLLOW relative to a directory descriptor, and only regular
files and directories are created or copied (symlinks, devices, FIFOs and sockets are skipped).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Mapping

from sandbox import _libc
from sandbox.spec import BOX, box_relative

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def make_box(uid: int, gid: int) -> None:
    """Create /box (or take over the image's) for the program's user: its home for the job."""
    if os.path.islink(BOX) or (os.path.exists(BOX) and not os.path.isdir(BOX)):
        os.unlink(BOX)
    if not os.path.exists(BOX):
        os.mkdir(BOX, 0o755)
    fd = os.open(BOX, _DIR_FLAGS)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, 0o755)
    finally:
        os.close(fd)


def write_files(files: Mapping[str, bytes]) -> None:
    """Write the job's files (content by relative path) under /box, as the program's user."""
    for name, content in files.items():
        *dirs, base = box_relative(name).split("/")
        parent = os.open(BOX, _DIR_FLAGS)
        try:
            for d in dirs:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(d, 0o755, dir_fd=parent)
                child = os.open(d, _DIR_FLAGS, dir_fd=parent)
                os.close(parent)
                parent = child
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(base, flags, 0o644, dir_fd=parent)
            try:
                view = memoryview(content)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
        finally:
            os.close(parent)


def open_container_box(pid: int) -> int:
    """/box of a live container, from the host: through /proc/<pid>/root, never leaving that root."""
    root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        resolve = _libc.RESOLVE_IN_ROOT | _libc.RESOLVE_NO_SYMLINKS | _libc.RESOLVE_NO_MAGICLINKS
        return _libc.openat2(root, BOX.lstrip("/"), os.O_RDONLY | os.O_DIRECTORY, resolve=resolve)
    finally:
        os.close(root)


def collect(src_dir_fd: int, dest_dir_fd: int, *, max_bytes: int) -> None:
    """Copy a /box tree into a host directory (regular files and directories; at most max_bytes)."""
    _copy_tree(src_dir_fd, dest_dir_fd, [max_bytes])


def _copy_tree(src: int, dst: int, budget: list[int]) -> None:
    for entry in os.scandir(src):
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(entry.name, 0o755, dir_fd=dst)
            child_src = os.open(entry.name, _DIR_FLAGS, dir_fd=src)
            child_dst = os.open(entry.name, _DIR_FLAGS, dir_fd=dst)
            try:
                _copy_tree(child_src, child_dst, budget)
            finally:
                os.close(child_src)
                os.close(child_dst)
        elif stat.S_ISREG(st.st_mode):
            _copy_file(src, dst, entry.name, st.st_mode & 0o755 | 0o644, budget)
        # Anything else is left behind: a symlink (even copied as a link, it could lead a host-side
        # reader of collect_to to a host file), a FIFO, a socket, a device.


def _copy_file(src: int, dst: int, name: str, mode: int, budget: list[int]) -> None:
    fin = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
    try:
        if not stat.S_ISREG(os.fstat(fin).st_mode):  # swapped for something else since scandir
            return
        fout = os.open(
            name,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            mode,
            dir_fd=dst,
        )
        try:
            while chunk := os.read(fin, 1 << 20):
                budget[0] -= len(chunk)
                if budget[0] < 0:
                    raise OSError(27, "collected /box is larger than the scratch limit")  # EFBIG
                os.write(fout, chunk)
            os.fchmod(fout, mode)
        finally:
            os.close(fout)
    finally:
        os.close(fin)
