"""Alpine: the official minirootfs tarball (sha256-verified) as base, `apk add` for layers.

The tarball is downloaded with httpx, hashed while it streams to disk, and refused (deleted)
unless its sha256 equals the one pinned in rootfs/base/base.toml - or, when no pin is set, the
one published next to it on the mirror (weaker: both come from the same server). It is then
extracted with every member checked (no absolute paths, no `..`, nothing written through a
symlink the archive itself created, no hard link out of the tree); device nodes are skipped,
the sandbox provides /dev. Language layers run `apk add --no-cache` in a chroot over the base,
exactly like the Debian path runs apt-get.
"""

from __future__ import annotations

import hashlib
import posixpath
import tarfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx

from core.images.errors import BuildFailed, ChecksumMismatch, UnsafeArchive
from core.images.namespace import Bind, Chroot, run_in_chroot
from core.images.recipes import AlpineBase

_RESOLV_CONF = "# jaula: programs get no network. Image builds bind the host's resolver here.\n"
_TIMEOUT = httpx.Timeout(30.0, read=120.0)


def download(url: str, dest: Path, *, client: httpx.Client | None = None) -> str:
    """Stream url to dest; return the sha256 (hex) of what was written."""
    digest = hashlib.sha256()
    own = client is None
    http = client or httpx.Client(timeout=_TIMEOUT, follow_redirects=True)
    try:
        with http.stream("GET", url) as response, dest.open("wb") as out:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                digest.update(chunk)
                out.write(chunk)
    finally:
        if own:
            http.close()
    return digest.hexdigest()


def expected_sha256(recipe: AlpineBase, *, client: httpx.Client | None = None) -> str:
    """The pinned sha256, or the one the mirror publishes as <tarball>.sha256."""
    if recipe.sha256:
        return recipe.sha256.lower()
    http = client or httpx.Client(timeout=_TIMEOUT, follow_redirects=True)
    try:
        response = http.get(recipe.tarball_url + ".sha256")
        response.raise_for_status()
        return response.text.split()[0].lower()
    finally:
        if client is None:
            http.close()


def fetch_minirootfs(recipe: AlpineBase, dest: Path, *, client: httpx.Client | None = None) -> Path:
    """Download and verify the tarball into dest (a directory); ChecksumMismatch deletes it."""
    tarball = dest / recipe.tarball_url.rsplit("/", 1)[-1]
    try:
        expected = expected_sha256(recipe, client=client)
        actual = download(recipe.tarball_url, tarball, client=client)
    except httpx.HTTPError as exc:
        tarball.unlink(missing_ok=True)
        raise BuildFailed("downloading the Alpine minirootfs", f"{recipe.tarball_url}: {exc}") from exc
    if actual != expected:
        tarball.unlink(missing_ok=True)
        raise ChecksumMismatch(recipe.tarball_url, expected, actual)
    return tarball


def _normalised(name: str, what: str) -> str:
    norm = posixpath.normpath(name)
    if posixpath.isabs(name) or norm == ".." or norm.startswith("../"):
        raise UnsafeArchive(f"{what} {name!r} leaves the extraction directory")
    return norm


def _check_not_through(name: str, symlinks: set[str], what: str) -> None:
    parts = name.split("/")
    for depth in range(1, len(parts)):
        if "/".join(parts[:depth]) in symlinks:
            raise UnsafeArchive(f"{what} {name!r} goes through a symlink in the archive")


def safe_members(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The archive's members, refusing any that could touch anything outside the target.

    tarfile (before Python 3.11.4's extraction filters) joins member names to the target path
    and follows symlinks while writing, so every name is checked here first.
    """
    symlinks: set[str] = set()
    for member in archive:
        name = _normalised(member.name, "member")
        _check_not_through(name, symlinks, "member")
        if member.isdev() or member.isfifo():
            continue  # the sandbox mounts its own /dev
        if member.islnk():
            target = _normalised(member.linkname, "hard link target")
            _check_not_through(target, symlinks, "hard link target")
        if member.issym():
            symlinks.add(name)
        yield member


def extract(tarball: Path, dest: Path) -> None:
    """Extract a rootfs tarball into dest, keeping owners and modes (run as root)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:*") as archive:
        archive.extractall(dest, members=list(safe_members(archive)), numeric_owner=True)


def configure(recipe: AlpineBase, rootfs: Path) -> None:
    """Point apk at the recipe's mirror and leave a resolv.conf for builds to bind over."""
    apk = rootfs / "etc" / "apk"
    apk.mkdir(parents=True, exist_ok=True)
    (apk / "repositories").write_text(recipe.repositories)
    for line, database in ((recipe.user.passwd_line, "passwd"), (recipe.user.group_line, "group")):
        with (rootfs / "etc" / database).open("a") as f:
            f.write(line)
    resolv = rootfs / "etc" / "resolv.conf"
    resolv.unlink(missing_ok=True)
    resolv.write_text(_RESOLV_CONF)


def build_base(recipe: AlpineBase, dest: Path, downloads: Path, on_line: Callable[[str], None] | None) -> str:
    """Download, verify, extract and configure the base into dest; returns its version string."""
    downloads.mkdir(parents=True, exist_ok=True)
    if on_line:
        on_line(f"downloading {recipe.tarball_url}")
    tarball = fetch_minirootfs(recipe, downloads)
    extract(tarball, dest)
    configure(recipe, dest)
    if recipe.packages:
        merged = dest.parent / "merged"
        merged.mkdir(exist_ok=True)
        chroot = Chroot(lowers=[dest], merged=merged, writable=True, binds=install_binds(), env=INSTALL_ENV)
        run_in_chroot(chroot, install_argv(recipe.packages), step="apk add (base)", on_line=on_line)
    return base_version(dest)


def base_version(rootfs: Path) -> str:
    return f"Alpine {(rootfs / 'etc/alpine-release').read_text().strip()}"


def install_argv(packages: Sequence[str]) -> list[str]:
    return ["apk", "add", "--no-cache", "--no-progress", *packages]


def install_binds() -> list[Bind]:
    return [Bind(Path("/etc/resolv.conf"), "/etc/resolv.conf", read_only=True)]


INSTALL_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
}
