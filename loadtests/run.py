"""Load-test jaula: start the service as `jaula up` does, drive it with Locust, report, stop.

    loadtests/run.sh --smoke                          CI: ~20 s, 4 users; non-zero on any failure
    loadtests/run.sh --users 10 --duration 120        one stage
    loadtests/run.sh --steps 1,2,5,10,20,50           a stage per user count, and a chart (the knee)
    loadtests/run.sh --users 16 --duration 600 --sample-interval 5      a soak

What it does, in order:
  1. starts `jaula up --host 127.0.0.1 --port P` (a free loopback port) with its own data dir
     (SQLite, a redis-server on another free loopback port), the installed images
     (JAULA_IMAGES_DIR, default /var/lib/jaula/images), and waits until /healthz says ready;
  2. warms it up (a few checked runs per language: the launchers start, caches fill);
  3. per stage: runs Locust headless (loadtests/locustfile.py) with bounded users, spawn rate
     and duration; samples the host's CPU (/proc/stat), the memory and CPU of each of `jaula
     up`'s children and the queue depth every --sample-interval; then waits until every job in
     the database is final (the users Locust stopped may leave jobs in the queue);
  4. stops `jaula up` by its PID (SIGTERM: it stops its children in order), then checks what is
     left: this run's mounts, cgroups, processes and scratch files (loadtests/host.py);
  5. writes report.md and report.json (and a chart for --steps, memory and queue over time) under
     the results directory, and exits 1 if any request or job failed, a job is not final, the
     service died, or something leaked.

Everything it starts it stops by PID, also on Ctrl+C. It talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from core.cli.up import stop_process
from loadtests import host, report, stats

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
DEFAULT_IMAGES = Path("/var/lib/jaula/images")
FINAL = ("done", "failed", "cancelled")
REFERENCE = "python hello [wait]"
"""The scenario whose latency locates the knee: present at every user count, and cheap, so its
time is the service's own (queueing included), not the program's."""

JsonObject = dict[str, Any]


class Stop(Exception):
    """SIGINT or SIGTERM: stop everything started, by PID, and exit."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    raise Stop(signal.Signals(signum).name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- the service --------------------------------------------------------------------------------------


@dataclass
class Service:
    """`jaula up` in a process of its own, on loopback, with a data dir of its own."""

    data_dir: Path
    images_dir: Path
    log_path: Path
    port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    tree: host.ServiceTree | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.data_dir / "jaula.db"

    def env(self) -> dict[str, str]:
        return os.environ | {
            "JAULA_DATA_DIR": str(self.data_dir),
            "JAULA_IMAGES_DIR": str(self.images_dir),
            "JAULA_LOCAL_REDIS_PORT": str(self.redis_port),
            "JAULA_LOG_LEVEL": "warning",
        }

    def start(self, timeout_s: float = 120.0) -> None:
        argv = [str(VENV_BIN / "jaula"), "up", "--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                argv, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO
            )
        self.tree = host.ServiceTree(self.process.pid)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + "/healthz", timeout=2.0).status_code == 200:
                    self.tree.find_parts()
                    if {"api", "worker", "redis"} <= self.tree.parts.keys():
                        return
            time.sleep(0.25)
        raise RuntimeError(f"jaula up was not ready within {timeout_s:g} s; see {self.log_path}")

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"jaula up exited with status {self.process.returncode}; see {self.log_path}")

    def stop(self) -> int | None:
        if self.process is None:
            return None
        return stop_process(self.process, timeout_s=90.0)


# -- the database (read-only) ------------------------------------------------------------------------


class Database:
    """The service's SQLite file, read-only (WAL: readers never block the service)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            yield connection
        finally:
            connection.close()

    def queue(self) -> dict[str, int]:
        depth = {"queued": 0, "running": 0}
        with self.connect() as db:
            for table in ("runs", "grading_submissions"):
                sql = f"SELECT status, count(*) FROM {table} WHERE status IN ('queued', 'running') GROUP BY 1"
                for status, count in db.execute(sql):
                    depth[status] += count
        return depth

    def statuses(self) -> dict[str, dict[str, int]]:
        with self.connect() as db:
            return {
                table: dict(db.execute(f"SELECT status, count(*) FROM {table} GROUP BY 1").fetchall())
                for table in ("runs", "grading_submissions")
            }

    def unfinished(self) -> int:
        with self.connect() as db:
            return sum(
                db.execute(f"SELECT count(*) FROM {table} WHERE status NOT IN {FINAL}").fetchone()[0]
                for table in ("runs", "grading_submissions")
            )

    def window(self, window: stats.Window) -> JsonObject:
        """Container runs finished inside the window, and where their time went (server side)."""
        start, end = (_utc(t) for t in (window.start, window.end))
        with self.connect() as db:
            rows = db.execute(
                "SELECT language, julianday(started_at) - julianday(queued_at),"
                " julianday(finished_at) - julianday(started_at)"
                " FROM runs WHERE status = 'done' AND finished_at BETWEEN ? AND ?",
                (start, end),
            ).fetchall()
            graded = db.execute(
                "SELECT count(*), coalesce(sum(json_array_length(results)), 0),"
                " coalesce(sum(julianday(finished_at) - julianday(started_at)), 0)"
                " FROM grading_submissions WHERE finished_at BETWEEN ? AND ?",
                (start, end),
            ).fetchone()
        day_ms = 86_400_000.0
        waits = [w * day_ms for _, w, _ in rows if w is not None]
        services = [s * day_ms for _, _, s in rows if s is not None]
        return {
            "runs": len(rows),
            "grading_submissions": graded[0],
            "grading_tests": graded[1],
            "container_runs_per_s": (len(rows) + graded[1]) / window.seconds,
            "runs_per_s": len(rows) / window.seconds,
            # Slot time (claim to finish) spent on each kind of job: who gets the worker's slots.
            "slot_s_runs": sum(services) / 1000,
            "slot_s_gradings": graded[2] * 86_400.0,
            "queue_wait_p50_ms": stats.percentile(waits, 50),
            "queue_wait_p95_ms": stats.percentile(waits, 95),
            "service_p50_ms": stats.percentile(services, 50),
            "service_p95_ms": stats.percentile(services, 95),
        }

    def wait_until_final(self, timeout_s: float) -> int:
        """Wait until no job is queued or running; the number still unfinished."""
        deadline = time.monotonic() + timeout_s
        while (left := self.unfinished()) and time.monotonic() < deadline:
            time.sleep(1.0)
        return left


def _utc(t: float) -> str:
    """A Unix time as the database stores it (naive UTC, ISO with a space)."""
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


# -- sampling ---------------------------------------------------------------------------------------


class Sampler(threading.Thread):
    """Every `interval_s`: host CPU times, each part's RSS and CPU, Locust's CPU, queue depth."""

    def __init__(self, tree: host.ServiceTree, database: Database, interval_s: float) -> None:
        super().__init__(daemon=True, name="sampler")
        self.tree = tree
        self.database = database
        self.interval_s = interval_s
        self.samples: list[JsonObject] = []
        self.locust_pid: int | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.samples.append(self.sample())
            self._stop_event.wait(self.interval_s)

    def sample(self) -> JsonObject:
        cpu = host.CpuTimes.read()
        parts = self.tree.sample()
        cpu_s = {name: figures["cpu_s"] for name, figures in parts.items() if name != "up"}
        cpu_s["kernel threads"] = host.kernel_threads_cpu_s()
        if self.locust_pid is not None:
            cpu_s["locust"] = host.cpu_s(self.locust_pid)
        try:
            queue = self.database.queue()
        except sqlite3.Error:
            queue = {"queued": 0, "running": 0}
        return {
            "t": time.time(),
            "cpu": {"busy_s": cpu.busy_s, "idle_s": cpu.idle_s, "steal_s": cpu.steal_s, "cores": cpu.cores},
            "cpu_s": cpu_s,
            "rss_mib": {name: round(f["rss_mib"], 2) for name, f in parts.items()},
            "tree_rss_mib": {name: round(f["tree_rss_mib"], 2) for name, f in parts.items()},
            "processes": {name: int(f["processes"]) for name, f in parts.items()},
            "sandbox_helpers_rss_mib": round(self.tree.helpers_rss_mib(), 2),
            "queue": queue,
            "loadavg": host.loadavg(),
        }

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


# -- stages -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StagePlan:
    users: int
    spawn_rate: float
    duration_s: int
    warmup_s: float


def run_stage(
    plan: StagePlan, service: Service, sampler: Sampler, directory: Path, *, cover: bool
) -> JsonObject:
    directory.mkdir(parents=True, exist_ok=True)
    events_path = directory / "events.jsonl"
    events_path.unlink(missing_ok=True)
    argv = [
        str(VENV_BIN / "locust"), "-f", str(LOCUSTFILE), "--headless",
        "--users", str(plan.users), "--spawn-rate", f"{plan.spawn_rate:g}",
        "--run-time", f"{plan.duration_s}s", "--host", service.url,
        # Users stopped at the end finish the task in hand, so no job is cut off unchecked.
        "--stop-timeout", "240", "--only-summary", "--csv", str(directory / "locust"),
    ]  # fmt: skip
    env = os.environ | {
        "JAULA_LOADTEST_EVENTS": str(events_path),
        "JAULA_LOADTEST_COVER": "1" if cover else "0",
    }
    print(f"-- {plan.users} users for {plan.duration_s} s (spawn rate {plan.spawn_rate:g}/s)", flush=True)
    load_before = host.loadavg()
    with open(directory / "locust.log", "wb") as log:
        locust = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        sampler.locust_pid = locust.pid
        try:
            deadline = time.monotonic() + plan.duration_s + 300
            while locust.poll() is None:
                service.check_alive()
                if time.monotonic() > deadline:
                    raise RuntimeError("Locust did not stop within 300 s of its run time")
                time.sleep(0.5)
        finally:
            stop_process(locust, timeout_s=10.0)
            sampler.locust_pid = None
    unfinished = service_database(service).wait_until_final(timeout_s=300)
    events = stats.load_events(events_path)
    window = stats.steady_window(events, plan.warmup_s)
    summary = stats.summarize(events, window)
    summary.update(
        plan=plan.__dict__,
        locust_exit=locust.returncode,
        loadavg_before=load_before,
        window={"start": window.start, "end": window.end},
        host=stats.host_usage(sampler.samples, window),
        database=service_database(service).window(window),
        unfinished_after_drain=unfinished,
    )
    (directory / "stage.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(report.stage_line(summary), flush=True)
    return summary


def service_database(service: Service) -> Database:
    return Database(service.database)


def warm_up(service: Service) -> None:
    """A few checked runs per language: starts the launchers and fills the caches."""
    programs = {
        "python": "print('warm')",
        "javascript": "console.log('warm')",
        "cpp": '#include <cstdio>\nint main() { puts("warm"); }',
    }
    with httpx.Client(base_url=service.url, timeout=60) as client:
        for _ in range(3):
            for language, source in programs.items():
                response = client.post("/v1/runs?wait=true", json={"language": language, "source": source})
                run = response.json()
                if response.status_code != 200 or run.get("stdout") != "warm\n":
                    raise RuntimeError(
                        f"warm-up {language} run failed: {response.status_code} {response.text[:300]}"
                    )


# -- the whole run ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="loadtests/run.sh",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawTextHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="CI: 4 users (one of each kind) for 20 s")
    mode.add_argument("--steps", help="comma-separated user counts, one stage each, e.g. 1,2,5,10,20,50")
    parser.add_argument("--users", type=int, default=10, help="users of a single stage (default 10)")
    parser.add_argument("--duration", type=int, help="seconds per stage (default 60; smoke 20)")
    parser.add_argument("--spawn-rate", type=float, help="users started per second (default: all within 2 s)")
    parser.add_argument(
        "--warmup", type=float, help="seconds after spawning not counted (default 10; smoke 0)"
    )
    parser.add_argument("--sample-interval", type=float, default=1.0, help="seconds between host samples")
    parser.add_argument(
        "--retry-disturbed",
        type=int,
        default=0,
        metavar="N",
        help="run a stage again, up to N times, when other processes used more than\n"
        f"{stats.DISTURBED_CORES} cores during it (a noisy neighbour)",
    )
    parser.add_argument(
        "--results", type=Path, help="results directory (default loadtests/results/<time>-<mode>)"
    )
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the service's data dir (database, logs)"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.users = 4
    args.duration = args.duration or (20 if args.smoke else 60)
    args.warmup = args.warmup if args.warmup is not None else (0.0 if args.smoke else 10.0)
    users = [int(u) for u in args.steps.split(",")] if args.steps else [args.users]
    if not users or min(users) < 1 or max(users) > 200:
        parser.error("user counts must be between 1 and 200")
    args.user_counts = users
    args.mode = "smoke" if args.smoke else "steps" if args.steps else f"users{args.users}-{args.duration}s"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print(
            "run.sh must run as root (the worker's sandbox creates namespaces, mounts, cgroups)",
            file=sys.stderr,
        )
        return 2
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    results = (args.results or REPO / "loadtests" / "results" / f"{stamp}-{args.mode}").resolve()
    results.mkdir(parents=True, exist_ok=True)
    images = Path(os.environ.get("JAULA_IMAGES_DIR", DEFAULT_IMAGES))
    data_dir = Path(tempfile.mkdtemp(prefix="jaula-loadtest-"))
    service = Service(data_dir=data_dir, images_dir=images, log_path=results / "service.log")
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    outcome: JsonObject = {
        "mode": args.mode,
        "started": stamp,
        "machine": report.machine(),
        "checkout": str(REPO),
        "commit": report.git_commit(REPO),
        "loadavg_start": host.loadavg(),
        "stages": [],
        "problems": [],
    }
    sampler: Sampler | None = None
    print(f"results: {results}", flush=True)
    mounts_before = host.mounts()
    try:
        service.start()
        assert service.tree is not None
        print(
            f"service: {service.url} (jaula up pid {service.tree.up_pid}, parts {service.tree.parts})",
            flush=True,
        )
        warm_up(service)
        sampler = Sampler(service.tree, service_database(service), args.sample_interval)
        sampler.start()
        for index, users in enumerate(args.user_counts):
            plan = StagePlan(
                users=users,
                spawn_rate=args.spawn_rate or max(1.0, users / 2),
                duration_s=args.duration,
                warmup_s=args.warmup,
            )
            directory = results / f"stage-{index + 1:02d}-{users}u"
            for attempt in range(1 + args.retry_disturbed):
                stage = run_stage(plan, service, sampler, directory, cover=args.smoke)
                stage["attempt"] = attempt + 1
                if not stage["host"].get("disturbed") or attempt == args.retry_disturbed:
                    break
                other = stage["host"]["other_cores"]
                print(f"   disturbed ({other:.2f} cores used by others): again in 30 s", flush=True)
                time.sleep(30)
            outcome["stages"].append(stage)
            if index + 1 < len(args.user_counts):
                time.sleep(5)  # let the host settle between stages
        sampler.stop()
        outcome["database"] = service_database(service).statuses()
        outcome["unfinished"] = service_database(service).unfinished()
    except Stop as stop:
        outcome["problems"].append(f"interrupted by {stop}")
    except Exception as exc:  # report what happened, then stop everything all the same
        outcome["problems"].append(f"{type(exc).__name__}: {exc}")
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        tree = service.tree
        status = service.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    outcome["service_exit"] = status
    if sampler is not None:
        outcome["samples"] = sampler.samples
    if tree is not None:
        outcome["residue"] = settle_residue(tree, mounts_before, service, images).__dict__
        outcome["launchers"] = sorted(tree.launchers)
        outcome["sandbox_uids"] = sorted(tree.uids)
    outcome["loadavg_end"] = host.loadavg()
    outcome["problems"] += report.problems(outcome)
    if args.steps:
        outcome["knee"] = stats.knee(outcome["stages"], REFERENCE)
        report.plot_steps(outcome, results / "loadtest-steps.png")
    if outcome.get("samples"):
        report.plot_series(outcome, results / "loadtest-series.png")
    (results / "report.json").write_text(json.dumps(outcome, indent=2) + "\n")
    (results / "report.md").write_text(report.markdown(outcome))
    if args.keep_data:
        print(f"data kept: {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(report.verdict_text(outcome), flush=True)
    print(f"report: {results / 'report.md'}", flush=True)
    return 1 if outcome["problems"] else 0


def settle_residue(
    tree: host.ServiceTree, mounts_before: set[str], service: Service, images: Path
) -> host.Residue:
    """Residue after the stop, looked at again for up to 10 s (a killed process takes a moment
    to be reaped, an empty cgroup to be removed)."""
    needles = [str(service.data_dir), str(images), "/run/jaula"]
    scratch = service.data_dir / "scratch"
    deadline = time.monotonic() + 10
    while True:
        found = host.residue(tree, mounts_before, needles, scratch)
        if found.clean or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
