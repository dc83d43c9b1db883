"""The image store: published layers, the manifest that names them, and the build lock.

    <images_path>/<distro>/
        manifest.json          which directory holds each layer, and what it is (manifest.py)
        layers/<name>.<id>/    a published layer: the base rootfs, or a language's upper dir
        tmp/                   builds in progress (swept at the start of every build)
        cache/                 apt lists and downloads shared by the layers of one build
        .lock                  flock: one build at a time per distro; readers never wait

A layer is published by renaming its finished build directory into layers/ under a fresh name
and then replacing the manifest atomically, so a reader sees either the old layer or the new
one, complete. The directory a replaced layer used is deleted afterwards.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.images.errors import ImageError, ImageMissing
from core.images.manifest import LayerRecord, Manifest
from core.images.recipes import BASE, Distro, stack_of
from core.languages import Catalogue, Language


class ImageStale(ImageError):
    def __init__(self, name: str, parent: str) -> None:
        super().__init__(
            f"the {name!r} image was built over an older {parent!r} layer; "
            f"run `jaula images build {name}` to rebuild it"
        )


_MANIFESTS: dict[Path, tuple[tuple[int, int, int], Manifest]] = {}


class ImageStore:
    def __init__(self, root: Path, distro: Distro) -> None:
        self.distro: Distro = distro
        self.root = root / distro
        self.layers_dir = self.root / "layers"
        self.tmp_dir = self.root / "tmp"
        self.cache_dir = self.root / "cache"
        self.manifest_path = self.root / "manifest.json"

    def manifest(self) -> Manifest:
        """The manifest as on disk now (a copy: callers may change and save it)."""
        try:
            st = os.stat(self.manifest_path)
        except FileNotFoundError:
            return Manifest(self.distro)
        # Read on every run by the workers: parse it again only when it was replaced.
        version = (st.st_ino, st.st_mtime_ns, st.st_size)
        seen = _MANIFESTS.get(self.manifest_path)
        if seen is None or seen[0] != version:
            seen = _MANIFESTS[self.manifest_path] = (version, Manifest.load(self.manifest_path, self.distro))
        return Manifest(seen[1].distro, dict(seen[1].layers))

    def path_of(self, record: LayerRecord) -> Path:
        return self.layers_dir / record.directory

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive build lock for this distro; released by the kernel even if we crash."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def sweep_tmp(self) -> None:
        """Remove builds that a crash or a kill left behind (call with the lock held)."""
        if self.tmp_dir.exists():
            shutil.rmtree(self.tmp_dir)
        self.tmp_dir.mkdir(parents=True)

    def new_build_dir(self, name: str) -> Path:
        path = self.tmp_dir / f"{name}.{uuid.uuid4().hex[:12]}"
        path.mkdir(parents=True)
        return path

    def publish(self, record: LayerRecord, built: Path) -> None:
        """Move a finished layer into place and record it (call with the lock held).

        `record.directory` must be a fresh name; `built` is renamed to it, on the same filesystem.
        """
        self.layers_dir.mkdir(parents=True, exist_ok=True)
        os.rename(built, self.layers_dir / record.directory)
        manifest = self.manifest()
        previous = manifest.layers.get(record.name)
        manifest.layers[record.name] = record
        manifest.save(self.manifest_path)
        if previous is not None and previous.directory != record.directory:
            shutil.rmtree(self.layers_dir / previous.directory, ignore_errors=True)

    def remove(self, name: str) -> bool:
        """Unpublish a layer and delete its directory (call with the lock held)."""
        manifest = self.manifest()
        record = manifest.layers.pop(name, None)
        if record is None:
            return False
        manifest.save(self.manifest_path)
        shutil.rmtree(self.layers_dir / record.directory, ignore_errors=True)
        return True

    def layers_for(self, language: Language, languages: Catalogue) -> list[Path]:
        """The host directories a run of `language` stacks, lowest first: base, deps, itself.

        Raises ImageMissing when one is not built, ImageStale when one was built over a parent
        that has since been rebuilt.
        """
        manifest = self.manifest()
        names = [BASE, *stack_of(language, languages)]
        records: list[LayerRecord] = []
        for name in names:
            record = manifest.layers.get(name)
            if record is None or not self.path_of(record).is_dir():
                raise ImageMissing(name if name != BASE else language.name, self.distro)
            records.append(record)
        for record in records[1:]:
            for parent, digest in zip(record.parents, record.parent_digests, strict=True):
                if manifest.layers[parent].digest != digest:
                    raise ImageStale(record.name, parent)
        return [self.path_of(record) for record in records]
