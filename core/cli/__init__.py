"""The `jaula` command: one entry point, one module per sub-command group.

Each module exposes `register(app)`; this file only assembles them.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="jaula",
    help="jaula: a sandboxed code-execution service (judge and playground).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def main() -> None:
    # Sub-command modules register themselves; imported here so `jaula --help` lists them all.
    from core.cli import doctor, grade, images, run, up

    for module in (doctor, images, run, up, grade):
        module.register(app)
    app()
