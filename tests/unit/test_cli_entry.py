"""The `jaula` entry point imports only the sub-command it runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.cli import COMMANDS, wanted_commands


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "hello.py", "--json"], ["run"]),
        (["images", "list"], ["images"]),
        (["--help"], list(COMMANDS)),
        ([], list(COMMANDS)),
        (["runn"], list(COMMANDS)),  # a typo gets the full list to suggest from
    ],
)
def test_wanted_commands(argv: list[str], expected: list[str]) -> None:
    assert wanted_commands(argv) == expected


def test_run_does_not_import_the_grading_code() -> None:
    script = (
        "import sys; from core.cli import main; sys.argv = ['jaula', 'run', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('core.grading', 'httpx'))))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_every_command_is_listed_by_help() -> None:
    script = "import sys; from core.cli import main; sys.argv = ['jaula', '--help']; main()"
    wide = {"COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=wide)
    assert done.returncode == 0, done.stderr
    for name in COMMANDS:
        assert f" {name} " in done.stdout
