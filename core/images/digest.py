"""A layer's content digest and its size on disk.

The digest is a sha256 over a sorted walk of the tree: for every entry its relative path, type,
permission bits and owner, then what identifies its content (a regular file's bytes, a symlink's
target - never followed -, a device's numbers, which is how overlayfs whiteouts are recorded) and
the overlayfs xattrs that change what a layer means (opaque directories). Timestamps are left out:
two builds that install the same files have the same digest.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

_CHUNK = 1 << 20
# overlayfs metadata that changes what a layer shows when it is stacked.
_OVERLAY_XATTRS = ("trusted.overlay.opaque", "trusted.overlay.redirect")


def _xattrs(path: str) -> bytes:
    found = b""
    for name in _OVERLAY_XATTRS:
        try:
            found += name.encode() + b"=" + os.getxattr(path, name, follow_symlinks=False) + b";"
        except OSError:
            continue  # absent (ENODATA) or unsupported: nothing to record
    return found


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _entries(root: str, relative: str = "") -> list[tuple[str, os.stat_result]]:
    found: list[tuple[str, os.stat_result]] = []
    with os.scandir(os.path.join(root, relative) if relative else root) as it:
        children = sorted(it, key=lambda e: e.name)
    for entry in children:
        rel = f"{relative}/{entry.name}" if relative else entry.name
        st = entry.stat(follow_symlinks=False)
        found.append((rel, st))
        if stat.S_ISDIR(st.st_mode):
            found.extend(_entries(root, rel))
    return found


def tree_digest(root: Path) -> str:
    """`sha256:<hex>` of the directory tree at root (the root directory itself included)."""
    digest = hashlib.sha256()
    top = os.lstat(root)
    digest.update(f"./{top.st_mode:o}:{top.st_uid}:{top.st_gid}\0".encode())
    for rel, st in _entries(str(root)):
        path = os.path.join(root, rel)
        mode = st.st_mode
        if stat.S_ISREG(mode):
            content = _file_sha256(path)
        elif stat.S_ISLNK(mode):
            content = os.readlink(path)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            content = f"{os.major(st.st_rdev)},{os.minor(st.st_rdev)}"
        else:
            content = ""
        xattrs = _xattrs(path) if stat.S_ISDIR(mode) else b""
        header = f"{rel}\0{mode:o}:{st.st_uid}:{st.st_gid}\0{content}\0"
        digest.update(header.encode("utf-8", "surrogateescape"))
        digest.update(xattrs + b"\n")
    return f"sha256:{digest.hexdigest()}"


def disk_usage(root: Path) -> int:
    """Bytes allocated on disk under root, each hard-linked inode counted once (like `du -s`)."""
    seen: set[tuple[int, int]] = set()
    total = os.lstat(root).st_blocks * 512
    for _, st in _entries(str(root)):
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
        total += st.st_blocks * 512
    return total
