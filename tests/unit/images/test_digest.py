"""Content digests: what a layer holds, not when it was made; symlinks by target, never followed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from core.images.digest import disk_usage, tree_digest


def _tree(root: Path) -> Path:
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/tool").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "usr/bin/tool").chmod(0o755)
    (root / "etc").mkdir()
    (root / "etc/conf").write_text("a = 1\n")
    (root / "usr/bin/alias").symlink_to("tool")
    return root


def test_same_content_same_digest_whatever_the_timestamps(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a")
    b = tmp_path / "b"
    shutil.copytree(a, b, symlinks=True)
    os.utime(b / "etc/conf", (0, 0))
    assert tree_digest(a) == tree_digest(b)
    assert tree_digest(a).startswith("sha256:")


@pytest.mark.parametrize(
    "change",
    [
        lambda r: (r / "etc/conf").write_text("a = 2\n"),
        lambda r: (r / "usr/bin/tool").chmod(0o644),
        lambda r: (r / "etc/new").write_text(""),
        lambda r: (r / "etc/conf").rename(r / "etc/conf2"),
        lambda r: ((r / "usr/bin/alias").unlink(), (r / "usr/bin/alias").symlink_to("other")),
        lambda r: (r / "var").mkdir(),
    ],
    ids=["content", "mode", "new file", "rename", "symlink target", "empty dir"],
)
def test_any_change_changes_the_digest(tmp_path: Path, change: object) -> None:
    root = _tree(tmp_path / "t")
    before = tree_digest(root)
    change(root)  # type: ignore[operator]
    assert tree_digest(root) != before


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    outside = tmp_path / "outside"
    outside.write_text("one")
    (root / "link").symlink_to(outside)
    before = tree_digest(root)
    outside.write_text("two")
    assert tree_digest(root) == before


@pytest.mark.root
def test_whiteouts_and_opaque_dirs_count(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mknod of a whiteout and trusted.* xattrs need root")
    root = _tree(tmp_path / "t")
    before = tree_digest(root)
    os.mknod(root / "etc/gone", 0o600 | 0o020000, os.makedev(0, 0))  # overlayfs whiteout
    with_whiteout = tree_digest(root)
    assert with_whiteout != before
    os.setxattr(root / "etc", "trusted.overlay.opaque", b"y")
    assert tree_digest(root) != with_whiteout


def test_disk_usage_counts_hard_links_once(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    (root / "big").write_bytes(b"x" * 1_000_000)
    single = disk_usage(root)
    os.link(root / "big", root / "big2")
    assert disk_usage(root) == single
    assert single >= 1_000_000
