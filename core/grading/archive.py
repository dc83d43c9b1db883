"""Problem archives: unpack an uploaded zip or tar safely; pack a problem the same way every time.

An uploaded archive is hostile until proven otherwise (the tar and zip CVEs of every judge that
"just extracted" one). `unpack()` therefore:
  - accepts only regular files and directories: a symlink, hard link, device or FIFO is refused
    with its name (a link is how an extraction is steered outside its directory);
  - refuses absolute names, `..` anywhere, NUL and backslashes, instead of "cleaning" them;
  - counts entries and the bytes it actually decompresses against caps, and stops at the first
    byte over (the sizes an archive declares are not believed: that is how zip bombs work);
  - writes into a fresh directory of its own with O_EXCL | O_NOFOLLOW, so a duplicate name is an
    error and nothing existing is ever followed or overwritten.
Hidden entries (any component starting with '.') and macOS' `__MACOSX/` are skipped, and when
everything sits in one top-level directory (a zipped folder), that directory is the problem.

`pack()` makes the archive a problem is stored as: a gzipped tar of its files with names
sorted and every timestamp, owner and mode fixed, so the same problem always has the same bytes
and therefore the same digest (stored once however many gradings use it).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import posixpath
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_CHUNK_BYTES = 1 << 16
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_MAX_NAME_BYTES = 1024
_SKIPPED_DIRECTORIES = ("__MACOSX",)
# What a damaged or truncated archive raises while being read (bz2 raises a bare OSError).
_CORRUPT = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError)


class ArchiveError(ValueError):
    """The archive is refused; the message names the entry and says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveCaps:
    max_entries: int = 4096
    """Files and directories together."""
    max_bytes: int = 128 * 1024 * 1024
    """Bytes of all files together, once decompressed."""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unpack(data: bytes, destination: Path, caps: ArchiveCaps = ArchiveCaps()) -> Path:
    """Unpack a zip or (optionally compressed) tar into `destination`, a directory that must not
    exist yet; returns the problem's root (`destination` or its single top-level directory)."""
    destination.mkdir(mode=0o755)
    writer = _Writer(destination, caps)
    if data.startswith(_ZIP_MAGIC):
        _unpack_zip(data, writer)
    else:
        _unpack_tar(data, writer)
    return _root(destination)


def pack(directory: Path, names: Iterable[str]) -> bytes:
    """The canonical archive of these files of `directory` (relative POSIX names)."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in sorted(set(names)):
            content = (directory / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


class _Writer:
    """Creates the entries of one archive under its root, enforcing the caps as it goes."""

    def __init__(self, root: Path, caps: ArchiveCaps) -> None:
        self.root = root
        self.caps = caps
        self.entries = 0
        self.bytes = 0

    def directory(self, name: str) -> None:
        self._count(name)
        path = self.root / name
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o755)
        except (FileExistsError, NotADirectoryError) as exc:
            raise ArchiveError(f"{name!r}: a file and a directory have the same name") from exc

    def file(self, name: str, source: IO[bytes]) -> None:
        self._count(name)
        path = self.root / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        except (FileExistsError, NotADirectoryError) as exc:
            raise ArchiveError(f"{name!r}: a file and a directory have the same name") from exc
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, 0o644)
        except FileExistsError as exc:
            raise ArchiveError(f"{name!r} appears twice in the archive") from exc
        except IsADirectoryError as exc:
            raise ArchiveError(f"{name!r}: a file and a directory have the same name") from exc
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(_CHUNK_BYTES):
                self.bytes += len(chunk)
                if self.bytes > self.caps.max_bytes:
                    raise ArchiveError(
                        f"the archive unpacks to more than {self.caps.max_bytes // (1 << 20)} MB "
                        f"(stopped in {name!r}); make the problem smaller"
                    )
                out.write(chunk)

    def _count(self, name: str) -> None:
        self.entries += 1
        if self.entries > self.caps.max_entries:
            raise ArchiveError(
                f"the archive has more than {self.caps.max_entries} entries (stopped at {name!r})"
            )


def safe_name(raw: str) -> str | None:
    """An entry's name as a relative path inside the archive; None for entries that are skipped
    (the root itself, hidden files, __MACOSX); ArchiveError for a name that could escape."""
    try:
        size = len(raw.encode("utf-8"))  # a name that is not UTF-8 (tar's surrogate escapes) fails
    except UnicodeEncodeError:
        size = _MAX_NAME_BYTES + 1
    if "\0" in raw or "\\" in raw or size > _MAX_NAME_BYTES:
        raise ArchiveError(f"{raw!r} is not an acceptable file name")
    if raw.startswith("/"):
        raise ArchiveError(f"{raw!r} is an absolute path; archive entries must be relative")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"{raw!r} contains '..'; archive entries must stay inside the archive")
    if not parts or any(p.startswith(".") or p in _SKIPPED_DIRECTORIES for p in parts):
        return None
    return posixpath.join(*parts)


def _unpack_tar(data: bytes, writer: _Writer) -> None:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for member in tar:
                name = safe_name(member.name)
                if member.isdir():
                    if name is not None:
                        writer.directory(name)
                elif not member.isreg():
                    raise ArchiveError(f"{member.name!r} is a {_tar_kind(member)}; only files are allowed")
                elif name is not None:
                    with _tar_member(tar, member) as source:
                        writer.file(name, source)
    except _CORRUPT as exc:
        raise ArchiveError(f"not a readable zip or tar archive ({exc})") from exc


@contextmanager
def _tar_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Iterator[IO[bytes]]:
    source = tar.extractfile(member)
    if source is None:  # isreg() members always have content; be explicit anyway
        raise ArchiveError(f"{member.name!r} has no content")
    with source:
        yield source


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return "symbolic link"
    if member.islnk():
        return "hard link"
    if member.ischr() or member.isblk():
        return "device"
    if member.isfifo():
        return "FIFO"
    return "special entry"


def _unpack_zip(data: bytes, writer: _Writer) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                mode = info.external_attr >> 16
                kind = stat.S_IFMT(mode)
                if info.create_system == 3 and kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                    what = "symbolic link" if stat.S_ISLNK(mode) else "special entry"
                    raise ArchiveError(f"{info.filename!r} is a {what}; only files are allowed")
                if info.flag_bits & 0x1:
                    raise ArchiveError(f"{info.filename!r} is encrypted; upload it unencrypted")
                name = safe_name(info.filename)
                if name is None:
                    continue
                if info.is_dir():
                    writer.directory(name)
                    continue
                with archive.open(info) as source:
                    writer.file(name, source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, *_CORRUPT) as exc:
        raise ArchiveError(f"not a readable zip archive ({exc})") from exc


def _root(destination: Path) -> Path:
    """The directory holding the problem: a single top-level directory is taken to be it."""
    entries = list(destination.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return destination
