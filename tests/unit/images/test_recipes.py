"""Recipe hashes decide rebuilds: stable for the same inputs, different for any real change."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.images.recipes import build_order, layer_recipe, recipe_hash, stack_of
from core.languages import catalogue, load_language

LANGS = catalogue()


def test_same_recipe_same_parents_same_hash() -> None:
    recipe = layer_recipe(LANGS.get("python"), "debian")
    assert recipe_hash(recipe, ["sha256:a"]) == recipe_hash(dict(recipe), ["sha256:a"])


def test_a_rebuilt_parent_changes_the_hash() -> None:
    recipe = layer_recipe(LANGS.get("python"), "debian")
    assert recipe_hash(recipe, ["sha256:a"]) != recipe_hash(recipe, ["sha256:b"])


def test_packages_change_the_hash_but_run_commands_do_not() -> None:
    python = LANGS.get("python")
    assert layer_recipe(python, "debian") != layer_recipe(LANGS.get("ruby"), "debian")
    # Only what changes the layer's bytes is in the recipe.
    assert set(layer_recipe(python, "debian")) == {"distro", "packages", "depends"}


def test_distros_have_different_recipes() -> None:
    python = LANGS.get("python")
    assert recipe_hash(layer_recipe(python, "debian")) != recipe_hash(layer_recipe(python, "alpine"))


def test_build_order_puts_dependencies_first_once() -> None:
    order = build_order(["typescript", "coffeescript", "javascript", "kotlin"], LANGS)
    assert order == ["javascript", "typescript", "coffeescript", "java", "kotlin"]


def _write_language(root: Path, name: str, depends: list[str]) -> None:
    d = root / name
    d.mkdir()
    (d / "hello.x").write_text("hello")
    (d / "echo.x").write_text("echo")
    (d / "language.toml").write_text(
        f'name = "{name}"\ndisplay_name = "{name}"\nsource_file = "main.x"\n'
        f'run = ["x"]\nversion = ["x"]\nhello = "hello.x"\necho = "echo.x"\n'
        f"depends = {depends!r}\n".replace("'", '"')
    )


def test_a_dependency_cycle_is_refused(tmp_path: Path) -> None:
    _write_language(tmp_path, "a", ["b"])
    _write_language(tmp_path, "b", ["a"])
    langs = catalogue.__wrapped__(tmp_path)
    with pytest.raises(ValueError, match="cycle"):
        stack_of(load_language(tmp_path / "a"), langs)


def test_an_unknown_dependency_is_refused(tmp_path: Path) -> None:
    _write_language(tmp_path, "a", ["nope"])
    langs = catalogue.__wrapped__(tmp_path)
    with pytest.raises(ValueError, match="unknown language 'nope'"):
        stack_of(langs.get("a"), langs)
