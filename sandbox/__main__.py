"""python -m sandbox: run one command in a fresh container, or check the host.

    python -m sandbox run --rootfs DIR [--layer DIR ...] [limits] [--stdin FILE] -- CMD...
    python -m sandbox check [--json]

`run` prints the result as JSON (stdout and stderr as text, or base64 when not UTF-8) and exits 0
when the sandbox worked, whatever the program did; 2 when the sandbox itself failed.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import Any

from sandbox import Limits, SandboxError, Spec, run
from sandbox.check import check_host, render
from sandbox.result import Result
from sandbox.spec import MIB


def _text_or_base64(data: bytes) -> dict[str, Any]:
    try:
        return {"text": data.decode()}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode()}


def result_json(result: Result) -> dict[str, Any]:
    data = result.to_json()
    data["stdout"] = _text_or_base64(result.stdout)
    data["stderr"] = _text_or_base64(result.stderr)
    return data


def _run(args: argparse.Namespace) -> int:
    if not args.command:
        print("run: give the command after --", file=sys.stderr)
        return 2
    limits = Limits(
        cpu_time_s=args.time_limit,
        wall_time_s=args.wall_limit,
        memory_bytes=args.memory_limit * MIB,
        pids=args.pids_limit,
        output_bytes=args.output_limit * 1024,
        file_size_bytes=args.file_size_limit * 1024,
    )
    stdin = None
    if args.stdin:
        with open(args.stdin, "rb") as f:
            stdin = f.read()
    spec = Spec(
        argv=args.command,
        layers=[args.rootfs, *args.layer],
        stdin=stdin,
        limits=limits,
        network=args.network,
        cwd=args.cwd,
    )
    try:
        result = run(spec)
    except SandboxError as exc:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)}, indent=2))
        return 2
    print(json.dumps(result_json(result), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    run_p = sub.add_parser("run", help="run a command in a fresh container and print the result as JSON")
    run_p.add_argument("--rootfs", required=True, help="the image's base layer (a directory)")
    run_p.add_argument("--layer", action="append", default=[], help="another layer on top (repeatable)")
    run_p.add_argument("--stdin", help="file to give on stdin (default: /dev/null)")
    run_p.add_argument("--cwd", default="/box", help="working directory inside (default /box)")
    run_p.add_argument("--time-limit", type=float, default=2.0, help="CPU seconds (default 2)")
    run_p.add_argument("--wall-limit", type=float, default=5.0, help="wall-clock seconds (default 5)")
    run_p.add_argument("--memory-limit", type=int, default=256, help="MB (default 256)")
    run_p.add_argument("--pids-limit", type=int, default=64, help="processes and threads (default 64)")
    run_p.add_argument("--output-limit", type=int, default=64, help="KB per stream (default 64)")
    run_p.add_argument("--file-size-limit", type=int, default=16384, help="KB (default 16384)")
    run_p.add_argument("--network", action="store_true", help="use the host's network (default: only lo)")
    run_p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARG...]")
    check_p = sub.add_parser("check", help="what this host supports, and how to fix what is missing")
    check_p.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.action == "run":
        if args.command and args.command[0] == "--":
            args.command = args.command[1:]
        return _run(args)
    report = check_host()
    print(report.to_json_text() if args.json else render(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
