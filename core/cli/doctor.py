"""`jaula doctor`: can this host run the sandbox? (root, overlayfs, namespaces, cgroup mode)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(json_output: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
        """Check that this host can run the sandbox, and say how to fix what is missing."""
        from sandbox.check import check_host, render

        report = check_host()
        typer.echo(report.to_json_text() if json_output else render(report))
        raise typer.Exit(0 if report.ok else 1)
