"""The store: atomic publish, removal, lookups that refuse missing or stale layers, the lock."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from core.images import ImageMissing, ImageStale, ImageStore, LayerRecord, Manifest
from core.languages import catalogue

LANGS = catalogue()


def _record(
    name: str,
    directory: str,
    *,
    parents: tuple[str, ...] = (),
    digests: tuple[str, ...] = (),
    digest: str = "sha256:1",
) -> LayerRecord:
    return LayerRecord(
        name=name, directory=directory, parents=parents, parent_digests=digests,
        version="v1", size_bytes=10, build_time_s=1.0, digest=digest,
        built_at="2026-01-01T00:00:00+00:00", recipe_hash="sha256:r", packages=("p",),
    )  # fmt: skip


def _publish(store: ImageStore, record: LayerRecord) -> Path:
    built = store.new_build_dir(record.name)
    (built / "file").write_text(record.directory)
    store.publish(record, built)
    return store.layers_dir / record.directory


def test_manifest_round_trip_and_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    manifest = Manifest("debian", {"base": _record("base", "base.1")})
    manifest.save(path)
    assert Manifest.load(path, "debian") == manifest
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]
    assert json.loads(path.read_text())["format"] == 1


def test_missing_manifest_is_empty_and_unknown_format_is_refused(tmp_path: Path) -> None:
    assert Manifest.load(tmp_path / "none.json", "debian").layers == {}
    (tmp_path / "m.json").write_text('{"format": 99, "layers": {}}')
    with pytest.raises(ValueError, match="unknown manifest format"):
        Manifest.load(tmp_path / "m.json", "debian")


def test_publish_replaces_the_old_directory(tmp_path: Path) -> None:
    store = ImageStore(tmp_path, "debian")
    store.sweep_tmp()
    old = _publish(store, _record("base", "base.old"))
    new = _publish(store, _record("base", "base.new"))
    assert not old.exists() and new.is_dir()
    assert store.manifest().layers["base"].directory == "base.new"
    assert store.remove("base") and not new.exists()
    assert not store.remove("base")


def test_layers_for_stacks_base_dependencies_and_language(tmp_path: Path) -> None:
    store = ImageStore(tmp_path, "debian")
    store.sweep_tmp()
    base = _publish(store, _record("base", "base.1", digest="sha256:base"))
    js = _publish(
        store,
        _record("javascript", "js.1", parents=("base",), digests=("sha256:base",), digest="sha256:js"),
    )
    with pytest.raises(ImageMissing, match="jaula images build typescript"):
        store.layers_for(LANGS.get("typescript"), LANGS)
    ts = _publish(
        store,
        _record(
            "typescript",
            "ts.1",
            parents=("base", "javascript"),
            digests=("sha256:base", "sha256:js"),
        ),
    )
    assert store.layers_for(LANGS.get("typescript"), LANGS) == [base, js, ts]


def test_a_layer_over_a_rebuilt_parent_is_stale(tmp_path: Path) -> None:
    store = ImageStore(tmp_path, "debian")
    store.sweep_tmp()
    _publish(store, _record("base", "base.1", digest="sha256:old"))
    _publish(store, _record("python", "py.1", parents=("base",), digests=("sha256:old",)))
    _publish(store, _record("base", "base.2", digest="sha256:new"))
    with pytest.raises(ImageStale, match="rebuild"):
        store.layers_for(LANGS.get("python"), LANGS)


def test_sweep_removes_abandoned_builds(tmp_path: Path) -> None:
    store = ImageStore(tmp_path, "debian")
    store.sweep_tmp()
    leftover = store.new_build_dir("python")
    (leftover / "work").mkdir()
    store.sweep_tmp()
    assert list(store.tmp_dir.iterdir()) == []


def test_the_lock_lets_one_build_in_at_a_time(tmp_path: Path) -> None:
    store = ImageStore(tmp_path, "debian")
    order: list[str] = []
    inside = threading.Event()

    def second() -> None:
        inside.wait()
        with store.locked():  # a separate open file description: flock blocks here
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with store.locked():
        inside.set()
        time.sleep(0.3)
        order.append("first")
    thread.join(timeout=5)
    assert order == ["first", "second"]
