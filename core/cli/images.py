"""`jaula images build|list|rm`: the base and language layers in the image store."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.images import BASE, ImageStore, base_recipe, open_store
from core.images.builder import Builder, BuildEvent, BuildOutcome, Stage
from core.images.recipes import Distro
from core.languages import UnknownLanguage, catalogue

DistroOption = Annotated[
    str | None,
    typer.Option("--distro", help="debian or alpine (default: the image_distro setting)."),
]
_STATUS_WIDTH = 70


def human_size(size_bytes: int) -> str:
    size = float(size_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _distro(value: str | None) -> Distro:
    if value is None:
        from core.config import get_settings

        return get_settings().image_distro
    if value not in ("debian", "alpine"):
        raise typer.BadParameter("must be debian or alpine", param_hint="--distro")
    return "debian" if value == "debian" else "alpine"


def _names(languages: list[str] | None) -> list[str]:
    langs = catalogue()
    try:
        return [langs.get(name).name for name in languages] if languages else langs.names()
    except UnknownLanguage as exc:
        raise typer.BadParameter(str(exc)) from exc


class BuildDisplay:
    """One progress line per layer: a spinner and the build's latest output line."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, event: BuildEvent) -> None:
        task = self.tasks.get(event.name)
        if task is None:
            task = self.progress.add_task(event.name, total=1, status="queued", start=False)
            self.tasks[event.name] = task
        if event.stage is Stage.BUILDING:
            self.progress.start_task(task)
            status = event.detail.strip()[:_STATUS_WIDTH] or "building"
            self.progress.update(task, status=f"[cyan]{status}")
        elif event.stage is Stage.BUILT:
            self.progress.update(task, completed=1, status="[green]built")
        elif event.stage is Stage.UP_TO_DATE:
            self.progress.update(task, completed=1, status="[dim]up to date")
        elif event.stage is Stage.FAILED:
            first = event.detail.splitlines()[0] if event.detail else ""
            self.progress.update(task, completed=1, status=f"[red]failed: {first[:_STATUS_WIDTH]}")


def _summary(outcomes: list[BuildOutcome]) -> Table:
    table = Table("layer", "result", "version", "size", "build time")
    for outcome in outcomes:
        rec = outcome.record
        style = {Stage.BUILT: "green", Stage.FAILED: "red"}.get(outcome.stage, "dim")
        table.add_row(
            outcome.name,
            f"[{style}]{outcome.stage.value.replace('_', ' ')}",
            rec.version if rec else "",
            human_size(rec.size_bytes) if rec else "",
            f"{rec.build_time_s:.0f} s" if rec and outcome.stage is Stage.BUILT else "",
        )
    return table


def _require_root(message: str) -> None:
    if os.geteuid() != 0:
        typer.echo(message, err=True)
        raise typer.Exit(2)


def _store(distro: str | None) -> ImageStore:
    return open_store(_distro(distro))


def register(app: typer.Typer) -> None:
    images = typer.Typer(help="Build, list and remove the base and language images.", no_args_is_help=True)
    app.add_typer(images, name="images")

    @images.command()
    def build(
        languages: Annotated[
            list[str] | None, typer.Argument(help="Languages to build (default: all).")
        ] = None,
        distro: DistroOption = None,
        force: Annotated[
            bool, typer.Option("--force", help="Rebuild the languages even if up to date.")
        ] = False,
    ) -> None:
        """Build the base and the languages' layers; what is up to date is skipped."""
        _require_root("jaula images build needs root (mount namespaces, chroot).")
        store = _store(distro)
        names = _names(languages)
        console = Console(stderr=True)
        columns = (
            SpinnerColumn(finished_text="•"),
            TextColumn("{task.description:<14}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
        )
        with Progress(*columns, console=console) as progress:
            builder = Builder(store, catalogue(), base_recipe(store.distro), on_event=BuildDisplay(progress))
            outcomes = builder.build(names, force=force)
        console.print(_summary(outcomes))
        failed = [o for o in outcomes if o.stage is Stage.FAILED]
        for outcome in failed:
            console.print(f"[red]{outcome.name}[/red]: {outcome.error}")
        raise typer.Exit(1 if failed else 0)

    @images.command("list")
    def list_images(
        distro: DistroOption = None,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """List the built layers: language, version, size, digest, built at."""
        store = _store(distro)
        layers = store.manifest().layers
        names = [n for n in (BASE, *catalogue().names()) if n in layers]
        if json_output:
            typer.echo(json.dumps([layers[n].to_json() for n in names], indent=2))
            return
        table = Table(title=str(store.root))
        table.add_column("language", no_wrap=True)
        table.add_column("version", no_wrap=True, overflow="ellipsis", max_width=40)
        table.add_column("size", justify="right", no_wrap=True)
        table.add_column("digest", no_wrap=True)
        table.add_column("built at (UTC)", no_wrap=True)
        for name in names:
            rec = layers[name]
            built_at = rec.built_at[:16].replace("T", " ")
            size = human_size(rec.size_bytes)
            table.add_row(name, rec.version, size, rec.digest[:19], built_at)
        console = Console(width=max(Console().width, 120))
        console.print(table)
        missing = [n for n in catalogue().names() if n not in layers]
        if missing:
            console.print(f"[dim]not built: {', '.join(missing)}")

    @images.command("rm")
    def remove(
        languages: Annotated[list[str], typer.Argument(help="Layers to remove.")],
        distro: DistroOption = None,
    ) -> None:
        """Remove built layers from the store."""
        _require_root("jaula images rm needs root (the store belongs to root).")
        store = _store(distro)
        known = {BASE, *catalogue().names()}
        unknown = [name for name in languages if name not in known]
        if unknown:
            raise typer.BadParameter(f"unknown layer(s): {', '.join(unknown)}")
        with store.locked():
            for name in languages:
                removed = store.remove(name)
                typer.echo(f"{name}: {'removed' if removed else 'was not built'}")
