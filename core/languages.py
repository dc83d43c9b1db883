"""The language catalogue: one `rootfs/<name>/language.toml` per language, loaded into frozen records.

A language is an image layer (packages installed over the base) plus how to compile and run a
program in it. The catalogue is data: adding a language means adding a directory, not code.

language.toml (all keys; see docs/images.md for a worked example):

    name = "cpp"                      # canonical id, lower case; also the layer's name
    display_name = "C++ (GCC)"
    aliases = ["c++", "g++"]
    extensions = [".cpp", ".cc"]
    source_file = "main.cpp"          # the submission is written to /box/<source_file>
    packages = ["g++"]                # Debian packages installed in the layer
    alpine_packages = ["g++"]         # the same for `--distro alpine` (omit: not built there)
    depends = []                      # languages whose layers this one is stacked on, e.g.
                                      # typescript: ["javascript"], kotlin: ["java"]
    compile = ["g++", "-O2", "-o", "main", "main.cpp"]   # omit for interpreted languages
                                      # allowed compiler options go where the element
                                      # "{options}" stands, or else right after argv[0]
    run = ["./main"]
    version = ["g++", "--version"]    # prints the toolchain version (first line is kept)
    compiler_options_allowed = ["-O0", "-O2", "-std=c++17"]   # options a request may add
    hello = "hello.cpp"               # files in the same directory
    echo = "echo.cpp"                 # copies stdin to stdout: the self-test of the layer
    compile_error = "compile_error.cpp"   # must fail to compile (compiled languages only)

    [limits]                          # defaults for running; requests may lower or raise them
    cpu_time_s = 2.0                  # up to the operator's caps
    wall_time_s = 5.0
    memory_mb = 256
    pids = 64

    [compile_limits]                  # defaults for compiling
    cpu_time_s = 10.0
    wall_time_s = 20.0
    memory_mb = 512
    pids = 64

    [env]                             # extra environment for compile and run
    GOCACHE = "/tmp/go-cache"
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOTFS_DIR = Path(__file__).resolve().parent.parent / "rootfs"


class UnknownLanguage(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"unknown language {name!r}; known languages: {', '.join(known)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitDefaults:
    cpu_time_s: float
    wall_time_s: float
    memory_mb: int
    pids: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Language:
    name: str
    display_name: str
    aliases: tuple[str, ...]
    extensions: tuple[str, ...]
    source_file: str
    packages: tuple[str, ...]
    compile_argv: tuple[str, ...] | None
    run_argv: tuple[str, ...]
    version_argv: tuple[str, ...]
    compiler_options_allowed: tuple[str, ...]
    limits: LimitDefaults
    compile_limits: LimitDefaults
    env: Mapping[str, str] = field(default_factory=dict)
    directory: Path
    hello_file: str
    echo_file: str
    compile_error_file: str | None
    depends: tuple[str, ...] = ()
    alpine_packages: tuple[str, ...] | None = None

    @property
    def compiled(self) -> bool:
        return self.compile_argv is not None

    def hello(self) -> str:
        return (self.directory / self.hello_file).read_text()

    def echo(self) -> str:
        return (self.directory / self.echo_file).read_text()

    def compile_error(self) -> str | None:
        if self.compile_error_file is None:
            return None
        return (self.directory / self.compile_error_file).read_text()


_RUN_DEFAULTS = LimitDefaults(cpu_time_s=2.0, wall_time_s=5.0, memory_mb=256, pids=64)
_COMPILE_DEFAULTS = LimitDefaults(cpu_time_s=10.0, wall_time_s=20.0, memory_mb=512, pids=64)


def _limits(data: Mapping[str, Any] | None, default: LimitDefaults) -> LimitDefaults:
    data = data or {}
    return LimitDefaults(
        cpu_time_s=float(data.get("cpu_time_s", default.cpu_time_s)),
        wall_time_s=float(data.get("wall_time_s", default.wall_time_s)),
        memory_mb=int(data.get("memory_mb", default.memory_mb)),
        pids=int(data.get("pids", default.pids)),
    )


def load_language(directory: Path) -> Language:
    """Read one language.toml; raises ValueError naming the file on a missing or bad key."""
    path = directory / "language.toml"
    try:
        data = tomllib.loads(path.read_text())
        compile_argv = data.get("compile")
        return Language(
            name=data["name"],
            display_name=data["display_name"],
            aliases=tuple(data.get("aliases", ())),
            extensions=tuple(data.get("extensions", ())),
            source_file=data["source_file"],
            packages=tuple(data.get("packages", ())),
            compile_argv=tuple(compile_argv) if compile_argv else None,
            run_argv=tuple(data["run"]),
            version_argv=tuple(data["version"]),
            compiler_options_allowed=tuple(data.get("compiler_options_allowed", ())),
            limits=_limits(data.get("limits"), _RUN_DEFAULTS),
            compile_limits=_limits(data.get("compile_limits"), _COMPILE_DEFAULTS),
            env=dict(data.get("env", {})),
            directory=directory,
            hello_file=data["hello"],
            echo_file=data["echo"],
            compile_error_file=data.get("compile_error"),
            depends=tuple(data.get("depends", ())),
            alpine_packages=(tuple(data["alpine_packages"]) if "alpine_packages" in data else None),
        )
    except (KeyError, TypeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: invalid language definition ({exc!r})") from exc


@dataclass(frozen=True, slots=True)
class Catalogue:
    languages: Mapping[str, Language]

    def names(self) -> list[str]:
        return sorted(self.languages)

    def get(self, name_or_alias: str) -> Language:
        """Find a language by name, alias or file extension (case-insensitive)."""
        key = name_or_alias.strip().lower()
        if key in self.languages:
            return self.languages[key]
        for lang in self.languages.values():
            if key in lang.aliases or key in lang.extensions:
                return lang
        raise UnknownLanguage(name_or_alias, self.names())

    def for_file(self, filename: str) -> Language:
        """Pick the language from a file's extension."""
        suffix = Path(filename).suffix.lower()
        for lang in self.languages.values():
            if suffix in lang.extensions:
                return lang
        raise UnknownLanguage(suffix or filename, self.names())


@cache
def catalogue(rootfs_dir: Path = ROOTFS_DIR) -> Catalogue:
    """All languages under rootfs/ (every directory with a language.toml)."""
    found = {}
    for toml in sorted(rootfs_dir.glob("*/language.toml")):
        lang = load_language(toml.parent)
        found[lang.name] = lang
    return Catalogue(found)
