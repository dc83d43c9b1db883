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
import errno
import os
import stat
from collections.abc import Mapping

from sandbox import _libc
from sandbox.result import size_text
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


MAX_DEPTH = 64
"""Directory levels of /box copied out at most."""


class BoxRefused(Exception):
    """What the program left in /box is not copied out (too much data, too deep): a verdict on
    the run, not a failure of the sandbox. The message completes "The files left in /box ..."."""


def collect(src_dir_fd: int, dest_dir_fd: int, *, max_bytes: int) -> None:
    """Copy a /box tree into a host directory: directories and regular files only, holes kept
    (a sparse file costs what it holds), hard links kept as links (a file linked many times is
    copied once). BoxRefused past max_bytes of data or MAX_DEPTH levels."""
    _Collector(src_dir_fd, dest_dir_fd, max_bytes).run()


class _Collector:
    """The walk keeps no descriptor per level and no Python recursion (the program decides how
    deep /box is): each directory is reopened from the two roots by its relative path, never
    following a symlink and never leaving the root."""

    def __init__(self, src_root: int, dst_root: int, max_bytes: int) -> None:
        self.src_root = src_root
        self.dst_root = dst_root
        self.max_bytes = max_bytes
        self.budget = max_bytes
        """Bytes of data still allowed."""
        self.copies: dict[tuple[int, int], str] = {}
        """(st_dev, st_ino) of a file with several links -> where its first link was copied."""
        self.pending = [("", 0)]
        """Directories still to copy: (path relative to the roots, depth)."""

    def run(self) -> None:
        while self.pending:
            relative, depth = self.pending.pop()
            src = _open_dir_beneath(self.src_root, relative)
            try:
                dst = _open_dir_beneath(self.dst_root, relative)
                try:
                    with os.scandir(src) as entries:
                        for entry in entries:
                            self._copy_entry(src, dst, entry, relative, depth)
                finally:
                    os.close(dst)
            finally:
                os.close(src)

    def _copy_entry(self, src: int, dst: int, entry: os.DirEntry[str], relative: str, depth: int) -> None:
        st = entry.stat(follow_symlinks=False)
        path = f"{relative}/{entry.name}" if relative else entry.name
        if stat.S_ISDIR(st.st_mode):
            if depth + 1 > MAX_DEPTH:
                raise BoxRefused(f"are nested more than {MAX_DEPTH} directories deep")
            os.mkdir(entry.name, 0o755, dir_fd=dst)
            self.pending.append((path, depth + 1))
        elif stat.S_ISREG(st.st_mode):
            inode = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and inode in self.copies:
                os.link(self.copies[inode], path, src_dir_fd=self.dst_root, dst_dir_fd=self.dst_root)
                return
            self._copy_file(src, dst, entry.name, st.st_mode & 0o755 | 0o644)
            if st.st_nlink > 1:
                self.copies[inode] = path
        # Anything else is left behind: a symlink (even copied as a link, it could lead a host-side
        # reader of collect_to to a host file), a FIFO, a socket, a device.

    def _copy_file(self, src: int, dst: int, name: str, mode: int) -> None:
        fin = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
        try:
            st = os.fstat(fin)
            if not stat.S_ISREG(st.st_mode):  # swapped for something else since scandir
                return
            fout = os.open(
                name,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                mode,
                dir_fd=dst,
            )
            try:
                self._copy_data(fin, fout, st.st_size)
                os.fchmod(fout, mode)
            finally:
                os.close(fout)
        finally:
            os.close(fin)

    def _copy_data(self, fin: int, fout: int, size: int) -> None:
        """The parts of the file that hold data, counted against the budget; the holes stay."""
        for offset, length in _data_extents(fin, size):
            end = offset + length
            while offset < end:
                chunk = os.pread(fin, min(1 << 20, end - offset), offset)
                if not chunk:
                    break
                self.budget -= len(chunk)
                if self.budget < 0:
                    raise BoxRefused(f"hold more than {size_text(self.max_bytes)}, the scratch limit")
                offset += os.pwrite(fout, chunk, offset)
        os.ftruncate(fout, size)  # the holes at the end, if any


def _open_dir_beneath(root: int, relative: str) -> int:
    if not relative:
        return os.dup(root)
    resolve = _libc.RESOLVE_BENEATH | _libc.RESOLVE_NO_SYMLINKS | _libc.RESOLVE_NO_MAGICLINKS
    try:
        return _libc.openat2(root, relative, os.O_RDONLY | os.O_DIRECTORY, resolve=resolve)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise BoxRefused("have a path longer than the system allows") from exc
        raise


def _data_extents(fd: int, size: int) -> list[tuple[int, int]]:
    """(offset, length) of the parts of a file that hold data; holes read as zeros and need no
    copy. A file system without SEEK_DATA reports the whole file as data."""
    extents = []
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole from here on
                break
            return [(0, size)]
        end = os.lseek(fd, start, os.SEEK_HOLE)
        extents.append((start, end - start))
        offset = end
    return extents
