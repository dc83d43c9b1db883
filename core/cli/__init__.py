"""The `jaula` command: one entry point, one module per sub-command group.

Each module exposes `register(app)`; this file only assembles them. Only the module of the
sub-command being run is imported: together they pull in rich, httpx, pydantic and the grading
code, about 200 ms of imports that `jaula run hello.py` would otherwise pay on every call.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import typer

# Sub-command name -> the module that registers it, in the order `jaula --help` lists them.
COMMANDS = {
    "doctor": "core.cli.doctor",
    "images": "core.cli.images",
    "run": "core.cli.run",
    "up": "core.cli.up",
    "grade": "core.cli.grade",
}

app = typer.Typer(
    name="jaula",
    help="jaula: a sandboxed code-execution service (judge and playground).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def jaula() -> None:
    """jaula: a sandboxed code-execution service (judge and playground)."""
    # A callback keeps `app` a group even when only one sub-command is registered (otherwise
    # typer would run that sole command as the root one and read its name as an argument).


def wanted_commands(argv: Sequence[str]) -> list[str]:
    """The sub-commands to register for this command line: the one it names, or all of them
    when it names none (`jaula`, `jaula --help`, a typo that deserves the full list)."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return [first] if first in COMMANDS else list(COMMANDS)


def main() -> None:
    for name in wanted_commands(sys.argv[1:]):
        importlib.import_module(COMMANDS[name]).register(app)
    app()
