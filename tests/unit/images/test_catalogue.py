"""The language catalogue: every rootfs/<lang>/language.toml is complete and consistent."""

from __future__ import annotations

import collections
import tomllib

import pytest

from core.config import Settings
from core.images.recipes import BASE, AlpineBase, DebianBase, load_base, stack_of
from core.languages import ROOTFS_DIR, Language, catalogue

LANGUAGES = catalogue().names()
REQUIRED = {
    "python", "c", "cpp", "java", "javascript", "typescript", "go", "rust", "ruby", "php", "perl",
    "lua", "bash", "haskell", "csharp", "pascal", "fortran", "ocaml", "r", "sql",
}  # fmt: skip
# Every compile_error program uses this name, so a test can tell the compiler's message from noise.
UNDEFINED = "undefined_name"


def test_catalogue_has_the_required_languages_and_more() -> None:
    assert set(LANGUAGES) >= REQUIRED
    assert len(LANGUAGES) > len(REQUIRED)


def test_every_language_directory_has_a_language_toml() -> None:
    dirs = {p.name for p in ROOTFS_DIR.iterdir() if p.is_dir() and p.name != BASE}
    assert dirs == set(LANGUAGES)


def test_names_aliases_and_extensions_are_unique_and_lower_case() -> None:
    seen: collections.Counter[str] = collections.Counter()
    for lang in catalogue().languages.values():
        keys = [lang.name, *lang.aliases, *lang.extensions]
        assert all(k == k.lower() for k in keys), lang.name
        seen.update(keys)
    assert [k for k, n in seen.items() if n > 1] == []


@pytest.mark.parametrize("name", LANGUAGES)
def test_language_is_complete(name: str) -> None:
    lang = catalogue().get(name)
    assert lang.directory.name == name
    for file in (lang.hello_file, lang.echo_file):
        assert (lang.directory / file).is_file()
    assert "Hello, World!" in lang.hello()
    assert lang.run_argv and lang.version_argv
    assert lang.packages or name == "bash"  # bash is in the base already
    for ext in lang.extensions:
        assert ext.startswith(".")
    assert catalogue().for_file(f"prog{lang.extensions[0]}") is lang


@pytest.mark.parametrize("name", LANGUAGES)
def test_compiled_languages_have_a_compile_error_program(name: str) -> None:
    lang = catalogue().get(name)
    if lang.compiled:
        assert lang.compile_argv is not None
        assert lang.compile_argv.count("{options}") <= 1
        error = lang.compile_error()
        assert error is not None and UNDEFINED in error
    else:
        assert lang.compile_error_file is None
        assert not lang.compiler_options_allowed


@pytest.mark.parametrize("name", LANGUAGES)
def test_default_limits_are_within_the_operator_caps(name: str) -> None:
    lang: Language = catalogue().get(name)
    caps = Settings()
    for limits in (lang.limits, lang.compile_limits):
        assert 0 < limits.cpu_time_s <= caps.max_cpu_time_limit_s
        assert 0 < limits.wall_time_s <= caps.max_wall_time_limit_s
        assert 0 < limits.memory_mb <= caps.max_memory_limit_mb
        assert 2 <= limits.pids <= caps.max_pids_limit


def test_jvm_languages_get_jvm_sized_limits() -> None:
    for name in ("java", "kotlin", "scala"):
        lang = catalogue().get(name)
        assert lang.limits.memory_mb >= 1024 and lang.limits.pids >= 128


def test_dependencies_resolve_lowest_first() -> None:
    langs = catalogue()
    assert stack_of(langs.get("typescript"), langs) == ["javascript", "typescript"]
    assert stack_of(langs.get("kotlin"), langs) == ["java", "kotlin"]
    assert stack_of(langs.get("python"), langs) == ["python"]
    for name in LANGUAGES:
        assert stack_of(langs.get(name), langs)[-1] == name


def test_toolchains_that_write_caches_keep_them_in_tmp() -> None:
    go = catalogue().get("go")
    assert go.env["GOCACHE"].startswith("/tmp/")
    for name in LANGUAGES:
        for key, value in catalogue().get(name).env.items():
            if key.endswith(("CACHE", "PATH", "HOME", "DIR")) and value.startswith("/"):
                assert value.startswith("/tmp"), (name, key, value)


def test_base_recipe_loads_for_both_distros() -> None:
    debian = load_base("debian")
    assert isinstance(debian, DebianBase)
    assert debian.suite == "bookworm" and debian.variant == "minbase"
    alpine = load_base("alpine")
    assert isinstance(alpine, AlpineBase)
    assert alpine.tarball_url.endswith(f"alpine-minirootfs-{alpine.version}-{alpine.arch}.tar.gz")
    assert len(alpine.sha256) == 64
    raw = tomllib.loads((ROOTFS_DIR / BASE / "base.toml").read_text())
    assert raw["user"]["uid"] == debian.user.uid
