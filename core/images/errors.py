"""What can go wrong while building or looking up images (never a program's verdict)."""

from __future__ import annotations


class ImageError(Exception):
    """Base class: the message says what failed and, where it can, what to do about it."""


class ImageMissing(ImageError, LookupError):
    """A language (or the base) has not been built on this host."""

    def __init__(self, name: str, distro: str) -> None:
        self.name = name
        self.distro = distro
        flag = "" if distro == "debian" else f" --distro {distro}"
        super().__init__(
            f"the {name!r} image is not built for {distro}; run `jaula images build {name}{flag}`"
        )


class BuildFailed(ImageError):
    """A build step failed; carries the tail of its output."""

    def __init__(self, step: str, detail: str) -> None:
        self.step = step
        self.detail = detail
        super().__init__(f"image build failed at {step}: {detail}")


class ChecksumMismatch(ImageError):
    """A downloaded file does not have the sha256 the recipe pins; it is deleted, never used."""

    def __init__(self, url: str, expected: str, actual: str) -> None:
        self.url = url
        self.expected = expected
        self.actual = actual
        super().__init__(f"sha256 mismatch for {url}: expected {expected}, got {actual}")


class UnsafeArchive(ImageError):
    """A tarball member would land outside the extraction directory."""
