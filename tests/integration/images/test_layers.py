"""The published layers: clean (no apt caches, no build-time mounts), rebuilds are no-ops."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.images import BASE, ImageStore, base_recipe, open_store
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
    builder = Builder(store, catalogue(), base_recipe(store.distro))
    builder.build(names)  # builds whatever is missing (normally nothing)
    before = store.manifest_path.read_bytes()
    outcomes = builder.build(names)
    assert [o.stage for o in outcomes] == [Stage.UP_TO_DATE] * len(outcomes)
    assert store.manifest_path.read_bytes() == before
    assert _mounts_under(store.root) == []


@pytest.mark.slow
def test_two_builds_at_once_take_turns(tmp_path: Path) -> None:
    """Two `jaula images build bash` into an empty store: one builds, the other waits, finds
    everything up to date, and the store holds exactly one base and one bash layer."""
    env = {**os.environ, "JAULA_IMAGES_DIR": str(tmp_path)}
    jaula = Path(sys.executable).parent / "jaula"
    argv = [str(jaula), "images", "build", "bash"]
    builds = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)
    ]
    outputs = [b.communicate(timeout=600)[0].decode() for b in builds]
    assert [b.returncode for b in builds] == [0, 0], outputs
    assert sum("up to date" in out for out in outputs) >= 1, outputs
    store = ImageStore(tmp_path, "debian")
    assert set(store.manifest().layers) == {"base", "bash"}
    assert sorted(p.name.split(".")[0] for p in store.layers_dir.iterdir()) == ["base", "bash"]
    assert not store.tmp_dir.exists() and not store.cache_dir.exists()
    assert _mounts_under(tmp_path) == []
