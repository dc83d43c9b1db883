"""Build the base and language layers into the store: skip what is up to date, publish the rest.

    builder = Builder(store, catalogue(), on_event=print)
    outcomes = builder.build(["python", "typescript"])   # also builds base and javascript

One build runs at a time per distro (the store's lock); a second one waits, then finds the
layers the first one built up to date. A layer is built in tmp/, measured (version, digest,
size), then published atomically. A layer that fails does not stop the others, except those
stacked on it.

A language layer is the upper directory of an overlay mounted over its parents while its
packages are installed (namespace.py): only what the install changed is kept, with whiteouts
for what it deleted, so every layer shares the base on disk and a run stacks base + language.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from core.images import alpine, debian
from core.images.digest import disk_usage, tree_digest
from core.images.errors import BuildFailed, ImageError
from core.images.manifest import LayerRecord
from core.images.namespace import Chroot, run_in_chroot
from core.images.recipes import (
    BASE,
    AlpineBase,
    BaseRecipe,
    DebianBase,
    build_order,
    layer_recipe,
    packages_for,
    recipe_hash,
    stack_of,
)
from core.images.store import ImageStore
from core.languages import Catalogue, Language


class Stage(StrEnum):
    QUEUED = "queued"
    BUILDING = "building"
    UP_TO_DATE = "up_to_date"
    BUILT = "built"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class BuildEvent:
    name: str
    stage: Stage
    detail: str = ""
    """A line of build output while BUILDING; the reason when FAILED."""


@dataclass(frozen=True, slots=True)
class BuildOutcome:
    name: str
    stage: Stage
    """UP_TO_DATE, BUILT or FAILED."""
    record: LayerRecord | None
    error: str | None = None


# The environment a toolchain's version command runs with, as in a run: HOME and TMPDIR on /tmp.
TOOL_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def first_line(output: str) -> str:
    for line in output.splitlines():
        if line.strip():
            return line.strip()
    return ""


class Builder:
    def __init__(
        self,
        store: ImageStore,
        languages: Catalogue,
        base: BaseRecipe,
        *,
        on_event: Callable[[BuildEvent], None] | None = None,
    ) -> None:
        self.store = store
        self.languages = languages
        self.base = base
        self._on_event = on_event
        self._lists_fresh = False

    def _emit(self, name: str, stage: Stage, detail: str = "") -> None:
        if self._on_event is not None:
            self._on_event(BuildEvent(name, stage, detail))

    def plan(self, names: Sequence[str]) -> list[str]:
        """Every layer `build(names)` considers, in build order (base first)."""
        return [BASE, *build_order(names, self.languages)]

    def build(self, names: Sequence[str], *, force: bool = False) -> list[BuildOutcome]:
        """Build base and the named languages (with what they stand on); force rebuilds them."""
        plan = self.plan(names)
        for name in plan:
            self._emit(name, Stage.QUEUED)
        outcomes: dict[str, BuildOutcome] = {}
        with self.store.locked():
            self.store.sweep_tmp()
            try:
                for name in plan:
                    outcomes[name] = self._build_one(name, outcomes, force=force and name != BASE)
                    outcome = outcomes[name]
                    self._emit(name, outcome.stage, outcome.error or "")
            finally:
                # Package lists and .debs are per build: keep the store small.
                shutil.rmtree(self.store.cache_dir, ignore_errors=True)
                shutil.rmtree(self.store.tmp_dir, ignore_errors=True)
        return [outcomes[name] for name in plan]

    def _build_one(self, name: str, done: dict[str, BuildOutcome], *, force: bool) -> BuildOutcome:
        if name == BASE:
            recipe: dict[str, object] = self.base.recipe_data()
            parents: list[str] = []
            packages = self.base.packages
        else:
            language = self.languages.languages[name]
            if packages_for(language, self.store.distro) is None:
                error = f"{name} has no {self.store.distro} packages in its language.toml"
                return BuildOutcome(name, Stage.FAILED, None, error)
            parents = [BASE, *stack_of(language, self.languages)[:-1]]
            failed = [p for p in parents if done[p].stage is Stage.FAILED]
            if failed:
                error = f"stacked on {', '.join(failed)}, which failed"
                return BuildOutcome(name, Stage.FAILED, None, error)
            recipe = layer_recipe(language, self.store.distro)
            packages = packages_for(language, self.store.distro) or ()
        manifest = self.store.manifest()
        parent_records = [manifest.layers[p] for p in parents]
        wanted = recipe_hash(recipe, [r.digest for r in parent_records])
        current = manifest.layers.get(name)
        if (
            not force
            and current is not None
            and current.recipe_hash == wanted
            and self.store.path_of(current).is_dir()
        ):
            return BuildOutcome(name, Stage.UP_TO_DATE, current)
        self._emit(name, Stage.BUILDING)
        started = time.monotonic()
        build_dir = self.store.new_build_dir(name)
        try:
            layer = build_dir / "layer"
            if name == BASE:
                version = self._build_base(layer)
            else:
                language = self.languages.languages[name]
                version = self._build_language(language, layer, build_dir, parent_records)
            record = LayerRecord(
                name=name,
                directory=build_dir.name,
                parents=tuple(parents),
                parent_digests=tuple(r.digest for r in parent_records),
                version=version,
                size_bytes=disk_usage(layer),
                build_time_s=round(time.monotonic() - started, 1),
                digest=tree_digest(layer),
                built_at=_now(),
                recipe_hash=wanted,
                packages=packages,
            )
            self.store.publish(record, layer)
            return BuildOutcome(name, Stage.BUILT, record)
        except (ImageError, OSError) as exc:
            return BuildOutcome(name, Stage.FAILED, None, str(exc))
        finally:
            shutil.rmtree(build_dir, ignore_errors=True)

    def _line(self, name: str) -> Callable[[str], None]:
        return lambda line: self._emit(name, Stage.BUILDING, line)

    def _build_base(self, dest: Path) -> str:
        if isinstance(self.base, DebianBase):
            return debian.build_base(self.base, dest, self._line(BASE))
        assert isinstance(self.base, AlpineBase)
        downloads = self.store.cache_dir / "downloads"
        return alpine.build_base(self.base, dest, downloads, self._line(BASE))

    def _build_language(
        self, language: Language, upper: Path, build_dir: Path, parents: Sequence[LayerRecord]
    ) -> str:
        packages = packages_for(language, self.store.distro) or ()
        lowers = [self.store.path_of(r) for r in parents]
        merged = build_dir / "merged"
        work = build_dir / "work"
        for path in (upper, merged, work):
            path.mkdir()
        if self.store.distro == "debian":
            argv = debian.install_argv(packages, update_lists=not self._lists_fresh)
            binds = debian.install_binds(self.store.cache_dir)
            env = debian.INSTALL_ENV
        else:
            argv = alpine.install_argv(packages)
            binds = alpine.install_binds()
            env = alpine.INSTALL_ENV
        chroot = Chroot(lowers=lowers, merged=merged, upper=upper, work=work, binds=binds, env=env)
        if packages:
            step = f"installing {language.name}"
            run_in_chroot(chroot, argv, step=step, on_line=self._line(language.name))
            self._lists_fresh = True
        return self.toolchain_version(language, [*lowers, upper], merged)

    def toolchain_version(self, language: Language, layers: Sequence[Path], merged: Path) -> str:
        """First line of the language's `version` command, run read-only over the built stack."""
        env = {**TOOL_ENV, **language.env}
        chroot = Chroot(lowers=layers, merged=merged, env=env)
        output = run_in_chroot(chroot, language.version_argv, step=f"{language.name} version")
        version = first_line(output)
        if not version:
            raise BuildFailed(f"{language.name} version", "the version command printed nothing")
        return version
