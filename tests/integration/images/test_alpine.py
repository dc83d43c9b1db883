"""The Alpine path end to end, offline: a minirootfs served on 127.0.0.1, checked, extracted,
layered and run in the real sandbox.

The Alpine mirror is unreachable here, so the tarball is made from the host's static busybox, laid
out like a minirootfs (Alpine's own is busybox plus musl and apk). What this cannot cover is
`apk add` itself: the test language installs no packages, so its layer is only what building one
over the base produces (the version check, the publish), and a separate layer made with a shell
command shows the overlay mechanics (a new file, a whiteout) that an `apk add` layer relies on.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import shutil
import stat
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import sandbox
from core.config import Settings
from core.execution import CompileFailure, prepare, run
from core.images import ImageStore
from core.images.builder import Builder, Stage
from core.images.namespace import Chroot, run_in_chroot
from core.images.recipes import AlpineBase, SandboxUser
from core.languages import catalogue

pytestmark = [pytest.mark.root]

BUSYBOX = Path("/bin/busybox")
USER = SandboxUser(name="jaula", uid=1000, gid=1000, home="/tmp")


def _busybox_minirootfs() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:

        def add(name: str, kind: bytes, mode: int = 0o755, data: bytes = b"", link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.linkname = kind, mode, link
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)

        for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "var", "run", "proc", "dev"):
            add(d, tarfile.DIRTYPE)
        add("tmp", tarfile.DIRTYPE, 0o1777)
        add("bin/busybox", tarfile.REGTYPE, data=BUSYBOX.read_bytes())
        applets = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True, check=True)
        for path in applets.stdout.split():
            if path != "bin/busybox":
                add(path, tarfile.SYMTYPE, link="/bin/busybox")
        add("etc/alpine-release", tarfile.REGTYPE, 0o644, b"3.20.3\n")
        add("etc/passwd", tarfile.REGTYPE, 0o644, b"root:x:0:0:root:/root:/bin/sh\n")
        add("etc/group", tarfile.REGTYPE, 0o644, b"root:x:0:root\n")
    return buffer.getvalue()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlpineBase]:
    if not BUSYBOX.is_file():
        pytest.fail("needs busybox-static (scripts/apt-packages.txt)")
    root = tmp_path_factory.mktemp("mirror")
    releases = root / "v3.20/releases/x86_64"
    releases.mkdir(parents=True)
    tarball = releases / "alpine-minirootfs-3.20.3-x86_64.tar.gz"
    tarball.write_bytes(_busybox_minirootfs())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield AlpineBase(
            mirror=f"http://127.0.0.1:{server.server_address[1]}",
            branch="v3.20",
            version="3.20.3",
            arch="x86_64",
            packages=(),
            user=USER,
            sha256=hashlib.sha256(tarball.read_bytes()).hexdigest(),
        )
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def shell_language(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalogue with one language that needs nothing beyond busybox."""
    root = tmp_path_factory.mktemp("langs")
    d = root / "shell"
    d.mkdir()
    (d / "hello.sh").write_text('echo "Hello, World!"\n')
    (d / "echo.sh").write_text("cat\n")
    (d / "language.toml").write_text(
        'name = "shell"\ndisplay_name = "POSIX sh (busybox)"\nextensions = [".sh"]\n'
        'source_file = "main.sh"\npackages = []\nalpine_packages = []\n'
        'run = ["sh", "main.sh"]\nversion = ["busybox"]\nhello = "hello.sh"\necho = "echo.sh"\n'
    )
    return root


@pytest.fixture(scope="module")
def built(mirror: AlpineBase, shell_language: Path, tmp_path_factory: pytest.TempPathFactory) -> ImageStore:
    store = ImageStore(tmp_path_factory.mktemp("store"), "alpine")
    outcomes = Builder(store, catalogue.__wrapped__(shell_language), mirror).build(["shell"])
    assert [(o.name, o.stage) for o in outcomes] == [
        ("base", Stage.BUILT),
        ("shell", Stage.BUILT),
    ], [o.error for o in outcomes]
    return store


def test_the_base_is_the_verified_tarball_configured_for_apk(built: ImageStore, mirror: AlpineBase) -> None:
    base = built.manifest().layers["base"]
    assert base.version == "Alpine 3.20.3"
    rootfs = built.path_of(base)
    assert (rootfs / "bin/busybox").read_bytes() == BUSYBOX.read_bytes()
    assert stat.S_IMODE((rootfs / "tmp").stat().st_mode) == 0o1777
    assert (rootfs / "etc/apk/repositories").read_text().startswith(mirror.mirror)
    assert "jaula:x:1000:1000" in (rootfs / "etc/passwd").read_text()


def test_a_rebuild_is_a_no_op(built: ImageStore, mirror: AlpineBase, shell_language: Path) -> None:
    before = built.manifest_path.read_bytes()
    outcomes = Builder(built, catalogue.__wrapped__(shell_language), mirror).build(["shell"])
    assert {o.stage for o in outcomes} == {Stage.UP_TO_DATE}
    assert built.manifest_path.read_bytes() == before


def test_a_language_layer_runs_in_the_sandbox(
    built: ImageStore, shell_language: Path, tmp_path: Path
) -> None:
    langs = catalogue.__wrapped__(shell_language)
    lang = langs.get("shell")
    assert built.manifest().layers["shell"].version.startswith("BusyBox")
    settings = Settings(scratch_dir=tmp_path)
    files = {"main.sh": lang.echo().encode()}
    with prepare(lang, files, store=built, languages=langs, settings=settings) as program:
        assert not isinstance(program, CompileFailure)
        result = run(program, stdin=b"from alpine\n")
    assert result.verdict is sandbox.Verdict.OK, result
    assert result.stdout == b"from alpine\n"


def test_a_layer_records_additions_and_deletions_as_overlay_whiteouts(
    built: ImageStore, tmp_path: Path
) -> None:
    base = built.path_of(built.manifest().layers["base"])
    upper, work, merged = tmp_path / "upper", tmp_path / "work", tmp_path / "merged"
    for d in (upper, work, merged):
        d.mkdir()
    change = "echo added > /etc/added && rm /etc/alpine-release && mkdir /opt"
    chroot = Chroot(lowers=[base], merged=merged, upper=upper, work=work)
    run_in_chroot(chroot, ["sh", "-c", change], step="test layer")
    whiteout = (upper / "etc/alpine-release").lstat()
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0  # overlayfs whiteout
    assert (upper / "etc/added").read_text() == "added\n"
    assert (base / "etc/alpine-release").exists()  # the base is untouched
    assert list(upper.glob("tmp/*")) == [] and not (upper / "proc/self").exists()
    # Stacked read-only, the layer shows the file and hides the deleted one ...
    view = Chroot(lowers=[base, upper], merged=merged)
    seen = run_in_chroot(
        view, ["sh", "-c", "cat /etc/added; ls /etc/alpine-release 2>&1 || true"], step="view"
    )
    assert seen.splitlines()[0] == "added" and "No such file" in seen
    # ... and so does the sandbox, which stacks the same directories.
    result = sandbox.run(sandbox.Spec(argv=["cat", "/etc/added"], layers=[str(base), str(upper)]))
    assert result.stdout == b"added\n"
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(merged) not in mounts and str(built.root) not in mounts
    shutil.rmtree(work)
