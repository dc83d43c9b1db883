"""`jaula images` and `jaula run` as a user meets them, up to the point where root is needed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from core.cli import images as images_cli
from core.cli import run as run_cli
from core.config import get_settings
from core.images import ImageStore
from tests.unit.images.test_manifest_store import _publish, _record


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    monkeypatch.setenv("JAULA_IMAGES_DIR", str(tmp_path / "images"))
    monkeypatch.setenv("JAULA_SCRATCH_DIR", str(tmp_path / "scratch"))
    get_settings.cache_clear()
    app = typer.Typer()
    images_cli.register(app)
    run_cli.register(app)
    yield app
    get_settings.cache_clear()


def test_human_size() -> None:
    assert [images_cli.human_size(n) for n in (0, 4096, 45_800_000, 3 * 2**30)] == [
        "0 B",
        "4.0 KB",
        "43.7 MB",
        "3.0 GB",
    ]


def test_run_refuses_an_unknown_extension_and_says_how_to_choose(app: typer.Typer, tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("hello")
    result = CliRunner().invoke(app, ["run", str(source)])
    assert result.exit_code == 2
    assert "use --lang" in result.output


def test_run_refuses_limits_over_the_operators_caps(app: typer.Typer, tmp_path: Path) -> None:
    source = tmp_path / "main.py"
    source.write_text("print(1)")
    result = CliRunner().invoke(app, ["run", str(source), "--memory-limit", "999999"])
    assert result.exit_code == 2
    assert "maximum" in result.output


def test_run_refuses_a_compiler_option_off_the_list(app: typer.Typer, tmp_path: Path) -> None:
    source = tmp_path / "main.c"
    source.write_text("int main(void) { return 0; }")
    result = CliRunner().invoke(app, ["run", str(source), "--compiler-option", "-fplugin=x.so"])
    assert result.exit_code == 2
    assert "not allowed" in result.output


def test_run_without_the_image_is_an_error_that_names_the_fix(app: typer.Typer, tmp_path: Path) -> None:
    source = tmp_path / "main.py"
    source.write_text("print(1)")
    result = CliRunner().invoke(app, ["run", str(source)])
    assert result.exit_code == 1
    assert "jaula images build python" in result.output


def test_images_list_shows_built_layers_and_what_is_missing(app: typer.Typer, tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images", "debian")
    store.sweep_tmp()
    _publish(store, _record("base", "base.1"))
    _publish(store, _record("python", "python.1", parents=("base",), digests=("sha256:1",)))
    listed = CliRunner().invoke(app, ["images", "list", "--distro", "debian"])
    assert listed.exit_code == 0
    assert "python" in listed.output and "not built:" in listed.output
    as_json = CliRunner().invoke(app, ["images", "list", "--json"])
    assert [layer["name"] for layer in json.loads(as_json.output)] == ["base", "python"]
