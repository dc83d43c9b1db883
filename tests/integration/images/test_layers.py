"""The published layers: clean (no apt caches, no build-time mounts), rebuilds are no-ops."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.images import BASE, load_base, open_store
from core.images.builder import Builder, Stage
from core.languages import catalogue
from tests.integration.images.conftest import built_languages

pytestmark = [pytest.mark.root, pytest.mark.images]

# A language layer is built with tmpfs on these and on /dev, so nothing may land there.
BUILD_MOUNTS = ("tmp", "run", "proc", "dev")
# No layer keeps apt's package lists or downloads.
APT_CACHES = ("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*_*")


def _layers() -> list[tuple[str, Path]]:
    store = open_store()
    manifest = store.manifest()
    return [(name, store.path_of(rec)) for name, rec in sorted(manifest.layers.items())]


def test_there_are_layers_to_check() -> None:
    assert BASE in dict(_layers()), "the base is not built: run `jaula images build`"


@pytest.mark.parametrize("name", [name for name, _ in _layers()])
def test_layer_holds_no_apt_cache_and_no_mount_residue(name: str) -> None:
    path = dict(_layers())[name]
    for pattern in APT_CACHES:
        assert list(path.glob(pattern)) == [], f"{name}: {pattern}"
    if name != BASE:
        for rel in BUILD_MOUNTS:
            leaked = list((path / rel).iterdir()) if (path / rel).is_dir() else []
            assert leaked == [], f"{name}: {rel} is not empty"


def _mounts_under(path: Path) -> list[str]:
    mountinfo = Path("/proc/self/mountinfo").read_text().splitlines()
    return [line for line in mountinfo if str(path) in line]


def test_a_rebuild_with_nothing_changed_is_a_no_op() -> None:
    store = open_store()
    names = ["bash"] if "bash" in built_languages() else []
    builder = Builder(store, catalogue(), load_base(store.distro))
    builder.build(names)  # builds whatever is missing (normally nothing)
    before = store.manifest_path.read_bytes()
    outcomes = builder.build(names)
    assert [o.stage for o in outcomes] == [Stage.UP_TO_DATE] * len(outcomes)
    assert store.manifest_path.read_bytes() == before
    assert _mounts_under(store.root) == []
