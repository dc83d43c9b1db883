"""The Alpine path offline: download from a local HTTP server, checksum refusal, safe extraction.

The real Alpine mirror is not reachable where these tests run; a server on 127.0.0.1 serves a
tarball made here, laid out like the mirror (<branch>/releases/<arch>/...).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import stat
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from core.images import BuildFailed, ChecksumMismatch, UnsafeArchive
from core.images.alpine import configure, extract, fetch_minirootfs
from core.images.recipes import AlpineBase, SandboxUser

USER = SandboxUser(name="jaula", uid=1000, gid=1000, home="/tmp")


def _add(
    tar: tarfile.TarFile,
    name: str,
    *,
    kind: bytes = tarfile.REGTYPE,
    data: bytes = b"",
    mode: int = 0o644,
    link: str = "",
) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def minirootfs_bytes() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        _add(tar, "./", kind=tarfile.DIRTYPE, mode=0o755)
        _add(tar, "./etc", kind=tarfile.DIRTYPE, mode=0o755)
        _add(tar, "./etc/alpine-release", data=b"3.20.3\n")
        _add(tar, "./etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\n")
        _add(tar, "./etc/group", data=b"root:x:0:root\n")
        _add(tar, "./tmp", kind=tarfile.DIRTYPE, mode=0o1777)
        _add(tar, "./bin", kind=tarfile.DIRTYPE, mode=0o755)
        _add(tar, "./bin/busybox", data=b"\x7fELF...", mode=0o755)
        _add(tar, "./bin/sh", kind=tarfile.SYMTYPE, link="/bin/busybox")
        _add(tar, "./dev", kind=tarfile.DIRTYPE, mode=0o755)
        _add(tar, "./dev/null", kind=tarfile.CHRTYPE, mode=0o666)
    return buffer.getvalue()


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[AlpineBase, Path]]:
    """A local mirror serving the tarball and its .sha256; yields the recipe and the file."""
    root = tmp_path / "mirror"
    releases = root / "v3.20" / "releases" / "x86_64"
    releases.mkdir(parents=True)
    tarball = releases / "alpine-minirootfs-3.20.3-x86_64.tar.gz"
    tarball.write_bytes(minirootfs_bytes())
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    (releases / (tarball.name + ".sha256")).write_text(f"{digest}  {tarball.name}\n")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recipe = AlpineBase(
        mirror=f"http://127.0.0.1:{server.server_address[1]}",
        branch="v3.20", version="3.20.3", arch="x86_64", sha256=digest, packages=(), user=USER,
    )  # fmt: skip
    try:
        yield recipe, tarball
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_download_with_the_pinned_checksum(mirror: tuple[AlpineBase, Path], tmp_path: Path) -> None:
    recipe, served = mirror
    got = fetch_minirootfs(recipe, tmp_path)
    assert got.read_bytes() == served.read_bytes()


def test_a_checksum_mismatch_is_refused_and_the_file_deleted(
    mirror: tuple[AlpineBase, Path], tmp_path: Path
) -> None:
    recipe, _ = mirror
    wrong = replace(recipe, sha256="0" * 64)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with pytest.raises(ChecksumMismatch, match="expected 0000"):
        fetch_minirootfs(wrong, downloads)
    assert list(downloads.iterdir()) == []


def test_without_a_pin_the_published_sha256_is_used(mirror: tuple[AlpineBase, Path], tmp_path: Path) -> None:
    recipe, served = mirror
    unpinned = replace(recipe, sha256="")
    assert fetch_minirootfs(unpinned, tmp_path).is_file()
    # A tampered tarball no longer matches what the mirror published.
    served.write_bytes(served.read_bytes() + b"tampered")
    with pytest.raises(ChecksumMismatch):
        fetch_minirootfs(unpinned, tmp_path)


def test_extraction_keeps_modes_and_symlinks_and_skips_devices(tmp_path: Path) -> None:
    tarball = tmp_path / "rootfs.tar.gz"
    tarball.write_bytes(minirootfs_bytes())
    dest = tmp_path / "rootfs"
    extract(tarball, dest)
    assert (dest / "etc/alpine-release").read_text() == "3.20.3\n"
    assert stat.S_IMODE((dest / "tmp").stat().st_mode) == 0o1777
    assert (dest / "bin/sh").is_symlink() and str((dest / "bin/sh").readlink()) == "/bin/busybox"
    assert stat.S_IMODE((dest / "bin/busybox").stat().st_mode) == 0o755
    assert not (dest / "dev/null").exists()


def test_configure_points_apk_at_the_mirror_and_adds_the_sandbox_user(
    mirror: tuple[AlpineBase, Path], tmp_path: Path
) -> None:
    recipe, served = mirror
    dest = tmp_path / "rootfs"
    extract(served, dest)
    configure(recipe, dest)
    assert (dest / "etc/apk/repositories").read_text().splitlines() == [
        f"{recipe.mirror}/v3.20/main",
        f"{recipe.mirror}/v3.20/community",
    ]
    assert "jaula:x:1000:1000:" in (dest / "etc/passwd").read_text()
    assert (dest / "etc/group").read_text().endswith("jaula:x:1000:\n")


def _evil(tmp_path: Path, *members: tuple[str, bytes, str]) -> Path:
    path = tmp_path / "evil.tar"
    with tarfile.open(path, "w") as tar:
        for name, kind, link in members:
            _add(tar, name, kind=kind, data=b"owned", link=link)
    return path


@pytest.mark.parametrize(
    "members",
    [
        [("../escaped", tarfile.REGTYPE, "")],
        [("/abs/escaped", tarfile.REGTYPE, "")],
        [("etc", tarfile.SYMTYPE, "/OUTSIDE"), ("etc/escaped", tarfile.REGTYPE, "")],
        [("up", tarfile.SYMTYPE, ".."), ("up/escaped", tarfile.REGTYPE, "")],
        [("hard", tarfile.LNKTYPE, "../../etc/passwd")],
        [("l", tarfile.SYMTYPE, "/etc"), ("hard", tarfile.LNKTYPE, "l/passwd")],
    ],
    ids=[
        "dotdot",
        "absolute",
        "through symlink",
        "through relative symlink",
        "hard link out",
        "hard link via symlink",
    ],  # fmt: skip
)
def test_unsafe_archives_are_refused_before_anything_is_written(
    tmp_path: Path, members: list[tuple[str, bytes, str]]
) -> None:
    outside = tmp_path / "OUTSIDE"
    outside.mkdir()
    tarball = _evil(tmp_path, *members)
    dest = tmp_path / "x" / "rootfs"
    with pytest.raises(UnsafeArchive):
        extract(tarball, dest)
    assert list(dest.iterdir()) == []
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "x" / "escaped").exists()


def test_an_unreachable_or_missing_tarball_is_a_build_failure(
    mirror: tuple[AlpineBase, Path], tmp_path: Path
) -> None:
    recipe, _ = mirror
    with pytest.raises(BuildFailed, match="404"):
        fetch_minirootfs(replace(recipe, version="0.0.0"), tmp_path)
    with pytest.raises(BuildFailed, match="downloading the Alpine minirootfs"):
        fetch_minirootfs(replace(recipe, mirror="http://127.0.0.1:9"), tmp_path)
    assert list(tmp_path.glob("*.tar.gz")) == []
