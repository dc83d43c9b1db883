"""Images for the sandbox tests: a busybox rootfs, a Debian python3 image, a layer of C programs.

    python -m tests.images [--cache DIR]     build (or find in the cache) all of them, print paths

- `build_busybox(dest)`: a static busybox, one symlink per applet, /etc/passwd with `root` and
  `runner` (uid 1000), empty /proc /dev /tmp /sys. Built fresh by each test session (milliseconds).
- `debian_python()`: Debian bookworm `minbase` plus python3, built with mmdebstrap from the host's
  apt sources; cached under the cache directory by a hash of the recipe (a minute or two to build).
- `c_programs(sources)`: every `*.c` under `sources` compiled with `gcc -static` on the host into
  a layer's /usr/local/bin (no toolchain inside the images), cached by a hash of the sources.
  A program whose name starts with `setuid_` is installed setuid root.

Cached images are built into a temporary directory next to their final place and renamed into
it, under a lock: a crashed or concurrent build never leaves a half-made image behind a valid
name. The cache directory is $JAULA_TEST_CACHE, or /var/cache/jaula-test (the cgroup v2 QEMU
guest gets it as an --image-dir: it has no network to build one).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
APT_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
DEFAULT_CACHE = Path(os.environ.get("JAULA_TEST_CACHE", "/var/cache/jaula-test"))
PROGRAMS_DIR = Path(__file__).parent / "integration" / "sandbox" / "programs"

RUNNER_UID = 1000
PASSWD = f"root:x:0:0:root:/root:/bin/sh\nrunner:x:{RUNNER_UID}:{RUNNER_UID}:runner:/box:/bin/sh\n"
GROUP = f"root:x:0:\nrunner:x:{RUNNER_UID}:\n"

DEBIAN_SUITE = "bookworm"
DEBIAN_OPTIONS = ("--variant=minbase", "--include=python3")
GCC_FLAGS = ("-static", "-O2", "-Wall", "-Werror", "-pthread")
# Bump when the way an image is made changes in a way its inputs do not show.
RECIPE_VERSION = "1"


class ImageBuildError(RuntimeError):
    """An image could not be built; the message says which and why."""


# -- busybox --------------------------------------------------------------------------------------


def build_busybox(dest: Path, busybox: Path = BUSYBOX) -> Path:
    """Make a busybox rootfs in the empty or missing directory `dest`; return `dest`."""
    if not busybox.is_file():
        raise ImageBuildError(f"{busybox} not found: install busybox-static")
    dest.mkdir(parents=True, exist_ok=True)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "proc", "dev", "sys", "box"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    (dest / "tmp").mkdir(mode=0o1777, exist_ok=True)
    (dest / "tmp").chmod(0o1777)
    shutil.copy2(busybox, dest / "bin" / "busybox")
    applets = subprocess.run(
        [str(busybox), "--list-full"], check=True, capture_output=True, text=True
    ).stdout.split()
    for applet in applets:
        link = dest / applet
        if link.name == "busybox" or link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("/bin/busybox")
    (dest / "etc" / "passwd").write_text(PASSWD)
    (dest / "etc" / "group").write_text(GROUP)
    (dest / "etc" / "hostname").write_text("busybox\n")
    return dest


# -- cached images --------------------------------------------------------------------------------


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()[:16]


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _cached(cache: Path, name: str, build: Callable[[Path], None]) -> Path:
    """`cache/name`, made by `build(tmp_dir)` and renamed into place if it is not there yet."""
    final = cache / name
    if final.is_dir():
        return final
    with _locked(cache):
        if final.is_dir():  # built by someone else while we waited
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=cache))
        try:
            build(tmp)
            tmp.chmod(0o755)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


def debian_python_name(sources: Path = APT_SOURCES) -> str:
    recipe = [RECIPE_VERSION, DEBIAN_SUITE, *DEBIAN_OPTIONS, sources.read_bytes().decode()]
    return f"debian-python-{_digest(*recipe)}"


def debian_python(cache: Path = DEFAULT_CACHE, sources: Path = APT_SOURCES) -> Path:
    """Debian bookworm minbase + python3 (cached); ImageBuildError if it cannot be built."""
    if not sources.is_file():
        raise ImageBuildError(f"no apt sources at {sources}")

    def build(tmp: Path) -> None:
        # mmdebstrap wants an empty directory (or none) as its target.
        tmp.rmdir()
        argv = ["mmdebstrap", "--quiet", *DEBIAN_OPTIONS, DEBIAN_SUITE, str(tmp), str(sources)]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
        except FileNotFoundError as exc:
            raise ImageBuildError("mmdebstrap not found: apt-get install mmdebstrap") from exc
        if proc.returncode != 0:
            raise ImageBuildError(f"mmdebstrap failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        if not (tmp / "usr" / "bin" / "python3").exists():
            raise ImageBuildError("mmdebstrap built an image without /usr/bin/python3")

    return _cached(cache, debian_python_name(sources), build)


def _gcc_version() -> str:
    try:
        return subprocess.run(["gcc", "--version"], check=True, capture_output=True, text=True).stdout
    except FileNotFoundError as exc:
        raise ImageBuildError("gcc not found: apt-get install gcc libc6-dev") from exc


def c_programs_name(sources: Path = PROGRAMS_DIR) -> str:
    files = sorted([*sources.glob("*.c"), *sources.glob("*.h")])
    parts: list[bytes | str] = [RECIPE_VERSION, _gcc_version(), *GCC_FLAGS]
    for f in files:
        parts += [f.name, f.read_bytes()]
    return f"c-programs-{_digest(*parts)}"


def c_programs(cache: Path = DEFAULT_CACHE, sources: Path = PROGRAMS_DIR) -> Path:
    """A layer with every `sources/*.c` as a static binary in /usr/local/bin (cached)."""
    files = sorted(sources.glob("*.c"))
    if not files:
        raise ImageBuildError(f"no C programs in {sources}")

    def build(tmp: Path) -> None:
        bindir = tmp / "usr" / "local" / "bin"
        bindir.mkdir(parents=True)
        for d in (tmp / "usr", tmp / "usr" / "local", bindir):
            d.chmod(0o755)

        def compile_one(source: Path) -> None:
            out = bindir / source.stem
            argv = ["gcc", *GCC_FLAGS, "-o", str(out), str(source)]
            proc = subprocess.run(argv, capture_output=True, text=True)
            if proc.returncode != 0:
                raise ImageBuildError(f"gcc failed on {source.name}:\n{proc.stderr}")
            os.chown(out, 0, 0)
            out.chmod(0o4755 if source.stem.startswith("setuid_") else 0o755)

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            for future in [pool.submit(compile_one, f) for f in files]:
                future.result()

    return _cached(cache, c_programs_name(sources), build)


def tree_digest(root: Path) -> str:
    """A hash of a directory tree: names, types, modes, owners, link targets and file contents."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted([*dirnames, *filenames]):
            path = Path(dirpath) / name
            st = path.lstat()
            h.update(f"{path.relative_to(root)}\0{st.st_mode:o}\0{st.st_uid}\0{st.st_gid}\0".encode())
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(path).encode())
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
            h.update(b"\n")
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.images", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"default {DEFAULT_CACHE}")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        build_busybox(Path(tmp) / "busybox")
        print("busybox:       ok (built in a temporary directory by each test session)")
    print(f"c programs:    {c_programs(args.cache)}")
    print(f"debian python: {debian_python(args.cache)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
