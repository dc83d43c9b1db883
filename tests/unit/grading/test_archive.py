"""Uploaded problem archives: unpacked safely, or refused with the entry's name."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from core.grading.archive import ArchiveCaps, ArchiveError, digest, pack, unpack
from core.grading.problem import load_problem
from tests.unit.grading.conftest import PROBLEMS


def tar_of(
    entries: list[tarfile.TarInfo | tuple[str, bytes]],
    compress: Callable[[bytes], bytes] = gzip.compress,
) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            else:
                info = tarfile.TarInfo(entry[0])
                info.size = len(entry[1])
                tar.addfile(info, io.BytesIO(entry[1]))
    return compress(buffer.getvalue())


def zip_of(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


def special(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_packed_problem_unpacks_to_the_same_problem(tmp_path: Path) -> None:
    problem = load_problem(PROBLEMS / "fibonacci")
    data = pack(problem.directory, problem.files)
    root = unpack(data, tmp_path / "out")
    again = load_problem(root)
    assert [t.name for t in again.tests] == [t.name for t in problem.tests]
    assert files_under(root) == {name: (problem.directory / name).read_bytes() for name in problem.files}


def test_pack_is_canonical(tmp_path: Path) -> None:
    problem = load_problem(PROBLEMS / "aplusb")
    first = pack(problem.directory, problem.files)
    copy = tmp_path / "copy"
    for name in problem.files:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes((problem.directory / name).read_bytes())
        os.utime(copy / name, (12345, 12345))
    assert pack(copy, reversed(problem.files)) == first
    assert digest(first) == digest(pack(problem.directory, problem.files))


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "tar": lambda data: data,
    "tar.gz": gzip.compress,
    "tar.bz2": bz2.compress,
    "tar.xz": lzma.compress,
}


@pytest.mark.parametrize("kind", ["zip", *COMPRESSORS])
def test_formats(tmp_path: Path, kind: str) -> None:
    entries = [("problem.toml", b'name = "p"\n'), ("tests/1.in", b"1\n"), ("tests/1.out", b"1\n")]
    if kind == "zip":
        data = zip_of([(name, content) for name, content in entries])
    else:
        data = tar_of(list(entries), COMPRESSORS[kind])
    root = unpack(data, tmp_path / "out")
    assert files_under(root) == dict(entries)


def test_a_single_top_level_directory_is_the_problem(tmp_path: Path) -> None:
    data = zip_of([("aplusb/problem.toml", b"x"), ("aplusb/tests/1.in", b"1"), ("__MACOSX/._x", b""),
                   ("aplusb/.DS_Store", b"")])  # fmt: skip
    root = unpack(data, tmp_path / "out")
    assert root == tmp_path / "out" / "aplusb"
    assert files_under(tmp_path / "out") == {"aplusb/problem.toml": b"x", "aplusb/tests/1.in": b"1"}


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../evil", "contains '..'"),
        ("tests/../../evil", "contains '..'"),
        ("/etc/cron.d/evil", "absolute path"),
        ("tests\\..\\evil", "not an acceptable file name"),
    ],
)
def test_names_that_escape_are_refused(tmp_path: Path, name: str, why: str) -> None:
    for data in (tar_of([(name, b"x")]), zip_of([(name, b"x")])):
        target = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        with pytest.raises(ArchiveError, match=why):
            unpack(data, target)
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize(
    ("entry", "what"),
    [
        (special("tests/1.in", tarfile.SYMTYPE, "/etc/shadow"), "symbolic link"),
        (special("tests/1.in", tarfile.LNKTYPE, "problem.toml"), "hard link"),
        (special("tests/dev", tarfile.CHRTYPE), "device"),
        (special("tests/fifo", tarfile.FIFOTYPE), "FIFO"),
    ],
)
def test_tar_links_and_special_files_are_refused(tmp_path: Path, entry: tarfile.TarInfo, what: str) -> None:
    with pytest.raises(ArchiveError, match=f"is a {what}; only files are allowed"):
        unpack(tar_of([entry]), tmp_path / "out")


def test_a_symlink_then_a_file_through_it_is_refused(tmp_path: Path) -> None:
    # The classic: a link to somewhere, then a file "inside" the link.
    data = tar_of([special("tests", tarfile.SYMTYPE, str(tmp_path)), ("tests/pwned", b"x")])
    with pytest.raises(ArchiveError, match="symbolic link"):
        unpack(data, tmp_path / "out")
    assert not (tmp_path / "pwned").exists()


def test_zip_symlinks_are_refused(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("tests/1.in")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(ArchiveError, match="symbolic link"):
        unpack(zip_of([(link, b"/etc/shadow")]), tmp_path / "out")


def test_duplicates_and_file_directory_clashes(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="appears twice"):
        unpack(tar_of([("a", b"1"), ("a", b"2")]), tmp_path / "one")
    with pytest.raises(ArchiveError, match="a file and a directory have the same name"):
        unpack(tar_of([("a", b"1"), ("a/b", b"2")]), tmp_path / "two")


def test_a_zip_bomb_stops_at_the_cap(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("tests/1.in", "w", force_zip64=True) as member,
    ):
        chunk = b"\0" * (1 << 20)
        for _ in range(256):  # 256 MB of zeros, a quarter of a megabyte compressed
            member.write(chunk)
    data = buffer.getvalue()
    assert len(data) < 1 << 20
    with pytest.raises(ArchiveError, match="unpacks to more than 8 MB"):
        unpack(data, tmp_path / "out", ArchiveCaps(max_bytes=8 << 20))
    # It stopped at the cap instead of believing the header or inflating everything.
    assert sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file()) <= 8 << 20


def test_too_many_entries(tmp_path: Path) -> None:
    data = tar_of([(f"tests/{i}.in", b"") for i in range(20)])
    with pytest.raises(ArchiveError, match="more than 10 entries"):
        unpack(data, tmp_path / "out", ArchiveCaps(max_entries=10))


GARBAGE = [b"", b"not an archive at all", b"PK\x03\x04garbage", b"\x1f\x8b\x08garbage"]


@pytest.mark.parametrize("data", GARBAGE)
def test_garbage_is_refused_with_a_message(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ArchiveError, match="not a readable"):
        unpack(data, tmp_path / "out")


def test_encrypted_zip_entries_are_refused(tmp_path: Path) -> None:
    data = bytearray(zip_of([("problem.toml", b"x")]))
    # Set the "encrypted" bit in the local header and in the central directory entry.
    data[6] |= 1
    central = data.rindex(b"PK\x01\x02")
    data[central + 8] |= 1
    with pytest.raises(ArchiveError, match="encrypted"):
        unpack(bytes(data), tmp_path / "out")
