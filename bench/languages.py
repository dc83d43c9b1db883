"""Hello world per language: `jaula run` against the same program run directly on the host.

    sudo .venv/bin/python -m bench.languages [--runs 5] [LANG...]

For every built language (or those named), three medians of wall-clock time, each covering the
whole job (compile, then run, for compiled languages):

  host        the same toolchain from the same image layers, run with plain `chroot` into an
              overlay mounted once beforehand, as root: no namespaces, cgroups or per-run mounts.
              The host has few of these toolchains itself, and those it has are other versions,
              so this is the fair baseline: it differs from the sandbox only by the sandbox.
  execute()   core.execution.execute() in this process with a warm sandbox launcher: what a
              worker pays per job.
  jaula run   the CLI as a user types it: a new Python process, imports, a new launcher, then
              the job.
  CLI start   `jaula run --help` in the same loop: the part of `jaula run` that is Python
              starting and importing the command's modules, before any sandbox work.

The ratio columns are sandbox over host. Runs alternate between the three so that a noisy
neighbour slows all of them alike; medians because this is a shared VM.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core.execution import compiler_argv, execute, submission_files
from core.images import ImageError, open_store
from core.languages import Language, catalogue
from sandbox import DEFAULT_ENV, SandboxError

REPO = Path(__file__).resolve().parent.parent
JAULA = REPO / ".venv" / "bin" / "jaula"


def _host_script(lang: Language) -> str:
    """Compile (if needed) and run the hello world in /box, as `jaula run` does."""
    steps = []
    if lang.compile_argv is not None:
        steps.append(shlex.join(compiler_argv(lang)))
    steps.append(shlex.join(lang.run_argv))
    return "cd /box && " + " && ".join(steps)


# Runs inside `unshare --mount`: mount the overlay once, then time `chroot ... sh -c script`.
_HOST_HELPER = r"""
import json, os, subprocess, sys, time
lowers, merged, scratch, script, runs, env = json.loads(sys.argv[1])
upper, work = scratch + "/upper", scratch + "/work"
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", scratch], check=True)
os.makedirs(upper + "/box"); os.makedirs(work); os.makedirs(upper + "/tmp", mode=0o1777)
opts = f"lowerdir={':'.join(reversed(lowers))},upperdir={upper},workdir={work}"
subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, merged], check=True)
subprocess.run(["mount", "-t", "proc", "proc", merged + "/proc"], check=True)
subprocess.run(["mount", "--rbind", "/dev", merged + "/dev"], check=True)
for name, data in json.loads(sys.argv[2]).items():
    with open(f"{merged}/box/{name}", "w") as f:
        f.write(data)
times = []
for _ in range(runs):
    started = time.perf_counter()
    subprocess.run(["env", "-i", *env, "chroot", merged, "sh", "-c", script], check=True,
                   stdout=subprocess.DEVNULL)
    times.append(time.perf_counter() - started)
print(json.dumps(times))
"""


def host_times(lang: Language, layers: list[Path], runs: int) -> list[float]:
    env = [f"{k}={v}" for k, v in {**DEFAULT_ENV, **lang.env}.items()]
    with tempfile.TemporaryDirectory() as tmp:
        merged, scratch = Path(tmp, "merged"), Path(tmp, "scratch")
        merged.mkdir()
        scratch.mkdir()
        config = [[str(p) for p in layers], str(merged), str(scratch), _host_script(lang), runs, env]
        files = {lang.source_file: lang.hello()}
        out = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", sys.executable, "-c", _HOST_HELPER,
             json.dumps(config), json.dumps(files)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    return [float(t) for t in json.loads(out.stdout)]


def execute_time(lang: Language) -> float:
    started = time.perf_counter()
    execution = execute(lang, submission_files(lang, lang.hello().encode()))
    elapsed = time.perf_counter() - started
    if execution.result.stdout != b"Hello, World!\n":
        raise RuntimeError(f"{lang.name}: hello world printed {execution.result.stdout!r}")
    return elapsed


def cli_time(lang: Language, source: Path) -> float:
    started = time.perf_counter()
    out = subprocess.run([JAULA, "run", str(source), "--lang", lang.name], capture_output=True)
    elapsed = time.perf_counter() - started
    if out.stdout != b"Hello, World!\n":
        raise RuntimeError(f"{lang.name}: jaula run printed {out.stdout!r} {out.stderr!r}")
    return elapsed


def cli_start_time() -> float:
    started = time.perf_counter()
    subprocess.run([JAULA, "run", "--help"], capture_output=True, check=True)
    return time.perf_counter() - started


def measure(lang: Language, layers: list[Path], runs: int) -> tuple[list[float], ...]:
    """Seconds per run: host, execute(), jaula run, CLI start; interleaved so noise hits all."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "hello" + lang.extensions[0])
        source.write_text(lang.hello())
        execute_time(lang)  # warm-up: starts the launcher, fills the page cache
        host, warm, cli, start = [], [], [], []
        for _ in range(runs):
            host += host_times(lang, layers, 1)
            warm.append(execute_time(lang))
            cli.append(cli_time(lang, source))
            start.append(cli_start_time())
    return host, warm, cli, start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("languages", nargs="*")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 2
    langs, store = catalogue(), open_store()
    rows = []
    print(
        "| language | host ms | execute() ms | jaula run ms | CLI start ms | execute/host | jaula run/host |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in args.languages or langs.names():
        lang = langs.get(name)
        try:
            layers = store.layers_for(lang, langs)
        except ImageError:
            continue
        try:
            host, warm, cli, start = measure(lang, layers, args.runs)
        except (RuntimeError, SandboxError, subprocess.CalledProcessError) as exc:
            print(f"| {name} | failed: {str(exc).splitlines()[0][:80]} | | | | | |", flush=True)
            continue
        h, w, c, s = (statistics.median(x) * 1000 for x in (host, warm, cli, start))
        rows.append({"language": name, "host_ms": h, "execute_ms": w, "jaula_run_ms": c, "cli_start_ms": s})
        print(f"| {name} | {h:.0f} | {w:.0f} | {c:.0f} | {s:.0f} | {w / h:.2f} | {c / h:.2f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
