"""Recipes: what goes into the base and into each language layer, and the hash that names it.

The base recipe is `rootfs/base/base.toml` (one table per distro). A language layer's recipe is
the part of its language.toml that changes the layer's bytes - its packages and the layers it is
stacked on - nothing else: editing a run command must not force a rebuild.

A recipe hash covers the recipe and the digests of the layers under it, so rebuilding the base
(new digest) makes every language stale, while an unchanged recipe over unchanged parents is a
no-op. `BUILDER_REVISION` is bumped when the build procedure itself changes what it produces.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.languages import ROOTFS_DIR, Catalogue, Language

Distro = Literal["debian", "alpine"]
DISTROS: tuple[Distro, ...] = ("debian", "alpine")
BASE = "base"
BUILDER_REVISION = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxUser:
    """The passwd and group entries of the uid programs run as."""

    name: str
    uid: int
    gid: int
    home: str

    @property
    def passwd_line(self) -> str:
        return f"{self.name}:x:{self.uid}:{self.gid}:jaula sandbox user:{self.home}:/bin/sh\n"

    @property
    def group_line(self) -> str:
        return f"{self.name}:x:{self.gid}:\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class DebianBase:
    suite: str
    variant: str
    sources: Path
    packages: tuple[str, ...]
    dpkg_path_exclude: tuple[str, ...]
    dpkg_path_include: tuple[str, ...]
    user: SandboxUser

    def recipe_data(self) -> dict[str, Any]:
        # The sources file's content, not its path: a different mirror is a different base.
        return {
            "distro": "debian",
            "suite": self.suite,
            "variant": self.variant,
            "sources": self.sources.read_text(),
            "packages": list(self.packages),
            "dpkg_path_exclude": list(self.dpkg_path_exclude),
            "dpkg_path_include": list(self.dpkg_path_include),
            "user": self.user.passwd_line,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class AlpineBase:
    mirror: str
    branch: str
    version: str
    arch: str
    sha256: str
    packages: tuple[str, ...]
    user: SandboxUser

    @property
    def tarball_url(self) -> str:
        name = f"alpine-minirootfs-{self.version}-{self.arch}.tar.gz"
        return f"{self.mirror.rstrip('/')}/{self.branch}/releases/{self.arch}/{name}"

    @property
    def repositories(self) -> str:
        """/etc/apk/repositories of the image."""
        root = f"{self.mirror.rstrip('/')}/{self.branch}"
        return f"{root}/main\n{root}/community\n"

    def recipe_data(self) -> dict[str, Any]:
        return {
            "distro": "alpine",
            "url": self.tarball_url,
            "sha256": self.sha256,
            "packages": list(self.packages),
            "user": self.user.passwd_line,
        }


BaseRecipe = DebianBase | AlpineBase


def load_base(
    distro: Distro, *, rootfs_dir: Path = ROOTFS_DIR, apt_sources: Path | None = None
) -> BaseRecipe:
    path = rootfs_dir / BASE / "base.toml"
    recipe = tomllib.loads(path.read_text())
    user = SandboxUser(**recipe["user"])
    data = recipe[distro]
    if distro == "debian":
        return DebianBase(
            suite=data["suite"],
            variant=data["variant"],
            sources=apt_sources or Path(data["sources"]),
            packages=tuple(data.get("packages", ())),
            dpkg_path_exclude=tuple(data.get("dpkg_path_exclude", ())),
            dpkg_path_include=tuple(data.get("dpkg_path_include", ())),
            user=user,
        )
    return AlpineBase(
        mirror=data["mirror"],
        branch=data["branch"],
        version=data["version"],
        arch=data["arch"],
        sha256=data.get("sha256", ""),
        packages=tuple(data.get("packages", ())),
        user=user,
    )


def packages_for(language: Language, distro: Distro) -> tuple[str, ...] | None:
    """The packages a language installs on a distro; None when it has no recipe there."""
    return language.packages if distro == "debian" else language.alpine_packages


def stack_of(language: Language, languages: Catalogue) -> list[str]:
    """The language layers a run of `language` stacks over the base, lowest first, itself last.

    `depends` is followed transitively; a cycle or an unknown name is a ValueError.
    """
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            cycle = " -> ".join([*visiting, name])
            raise ValueError(f"languages depend on each other in a cycle: {cycle}")
        visiting.append(name)
        for dep in languages.languages[name].depends if name in languages.languages else ():
            if dep not in languages.languages:
                raise ValueError(f"{name} depends on unknown language {dep!r}")
            visit(dep)
        visiting.pop()
        order.append(name)

    visit(language.name)
    return order


def build_order(names: Sequence[str], languages: Catalogue) -> list[str]:
    """The languages to build for `names` (dependencies included), each after what it stands on."""
    order: list[str] = []
    for name in names:
        for layer in stack_of(languages.get(name), languages):
            if layer not in order:
                order.append(layer)
    return order


def recipe_hash(recipe: Mapping[str, Any], parent_digests: Sequence[str] = ()) -> str:
    """Hash of a layer's recipe plus the digests of the layers it is built on."""
    payload = {"builder": BUILDER_REVISION, "recipe": recipe, "parents": list(parent_digests)}
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def layer_recipe(language: Language, distro: Distro) -> dict[str, Any]:
    packages = packages_for(language, distro)
    return {"distro": distro, "packages": list(packages or ()), "depends": list(language.depends)}
