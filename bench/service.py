"""Service benchmark: jaula end to end against the machine's own process-spawn rate, in one run.

    sudo .venv/bin/python bench/service.py [--rounds 5] [--jobs 600] [--latency-runs 200] [--json FILE]

Measures on the same machine, in one run:
  1. once, at the start: the same program run straight through core.execution and the sandbox,
     one thread per core (the sandbox's cost without any service around it);
  2. in each of `--rounds` rounds, one right after the other, so that the machine's drift (this
     is a noisy VM: its speed changes by 10-20 % within minutes) hits anchor and service alike:
       bare `/usr/bin/python3 -c 'print(1)'` spawns per second on the host, one spawning loop per
       core (the physical limit for Python hello-world jobs here);
       the same loops with each spawn wrapped in bubblewrap (namespaces over a Debian rootfs; no
       overlay, no cgroup, no service): what a minimal C sandbox alone leaves of that limit;
       Python hello-world jobs through the whole service (HTTP POST -> database -> Celery/Redis
       -> worker -> sandbox -> database), submitted by concurrent clients faster than they
       complete, counted as they finish (the workers' announcements on Redis), then checked;
       once with one run per POST /v1/runs, once with POST /v1/runs/batch (`batch_max_size` runs
       per request, which spares the HTTP layer, not the queue, sandbox or database);
     each round's ratios are against that round's bare rate; the summary is their median;
  3. latency: single `POST /v1/runs?wait=true` requests one at a time (low load), p50 and p95.

The service is started as `jaula up` starts it (core.cli.up.Service: its own redis-server,
SQLite under a temporary data dir, a Celery worker, uvicorn), with the image store configured
in the environment (JAULA_IMAGES_DIR, default /var/lib/jaula/images).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests, loadtests

from core import execution
from core.cli.up import Service
from core.config import Settings
from core.languages import catalogue
from core.queue import FINISHED_CHANNEL, read_announcement
from loadtests.host import cpu_s
from tests import http1, images

HOST_PYTHON = "/usr/bin/python3"
HELLO = {"language": "python", "source": "print('hello')"}


def spawn_rate(runs_per_loop: int, loops: int, wrapper: Sequence[str] = ()) -> tuple[float, float]:
    """`python3 -c 'print(1)'` runs per second (each wrapped in `wrapper`, if any), `loops` shell
    loops spawning in parallel (a shell forks for a few tens of microseconds: the figure is
    Python's own start-up), and the CPU milliseconds each run cost."""
    command = shlex.join([*wrapper, HOST_PYTHON, "-c", "print(1)"])
    script = f"i=0; while [ $i -lt {runs_per_loop} ]; do {command}; i=$((i+1)); done"
    cpu_before = _children_cpu_s()
    start = time.monotonic()
    shells = [subprocess.Popen(["/bin/sh", "-c", script], stdout=subprocess.DEVNULL) for _ in range(loops)]
    for shell in shells:
        if shell.wait() != 0:
            raise RuntimeError(f"the loop of {command} failed")
    runs = runs_per_loop * loops
    return runs / (time.monotonic() - start), (_children_cpu_s() - cpu_before) * 1000 / runs


def bwrap_wrapper(rootfs: Path) -> list[str]:
    """bubblewrap as bench/sandbox_overhead.py runs it: every namespace, the rootfs read-only."""
    return [
        shutil.which("bwrap") or "/usr/bin/bwrap",
        "--unshare-all", "--die-with-parent",
        "--ro-bind", str(rootfs), "/",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
    ]  # fmt: skip


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sandbox_rate(settings: Settings, runs_per_slot: int, slots: int) -> tuple[float, float]:
    """Python hello-world runs per second straight through core.execution (the sandbox, no
    service around it), one thread per slot as in the worker: the service's own ceiling; and
    the CPU milliseconds each run cost (this process, its launchers and the programs)."""
    language = catalogue().get("python")
    files = {language.source_file: HELLO["source"].encode()}

    def slot() -> None:
        for _ in range(runs_per_slot):
            done = execution.execute(language, files, settings=settings)
            if done.result.stdout != b"hello\n":
                raise RuntimeError(f"sandbox run failed: {done.result}")

    with ThreadPoolExecutor(slots) as pool:
        for future in [pool.submit(slot) for _ in range(slots)]:
            future.result()  # warm: each thread starts its launcher
        cpu_before = cpu_s(os.getpid())
        start = time.monotonic()
        for future in [pool.submit(slot) for _ in range(slots)]:
            future.result()
        elapsed, cpu = time.monotonic() - start, cpu_s(os.getpid()) - cpu_before
    runs = runs_per_slot * slots
    return runs / elapsed, cpu * 1000 / runs


class Finished:
    """Counts run ids announced on the finished channel (no load on the API while waiting)."""

    def __init__(self, broker: str) -> None:
        # Keep the client: when it is collected it closes its pool, and with it the subscription.
        self.client = redis.Redis.from_url(broker)
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self.pubsub.subscribe(FINISHED_CHANNEL)
        self.seen: set[str] = set()

    def wait_for(self, ids: set[str], timeout_s: float) -> float:
        deadline = time.monotonic() + timeout_s
        while not ids <= self.seen and time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=0.5)
            if message is not None:
                run_id, _ = read_announcement(message["data"])
                self.seen.add(str(run_id))
        return time.monotonic()

    def close(self) -> None:
        self.pubsub.close()


async def submit_all(url: str, jobs: int, concurrency: int, batch: int) -> list[str]:
    """Submit `jobs` runs from `concurrency` clients, `batch` runs per request (1: POST /v1/runs).

    The clients speak HTTP/1.1 over asyncio streams themselves (tests.http1): they share the two
    cores with the service, and a general-purpose client (httpx) spends 2.4 ms of CPU per request
    here, more than the API itself; these spend a fraction of that, so the figure measures the
    service."""
    ids: list[str] = []
    sizes: asyncio.Queue[int] = asyncio.Queue()
    for start in range(0, jobs, batch):
        sizes.put_nowait(min(batch, jobs - start))
    host, port_text = url.removeprefix("http://").split(":")
    port = int(port_text)
    single = http1.request("POST", host, port, "/v1/runs", json.dumps(HELLO).encode())

    async def submitter() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while not sizes.empty():
                size = sizes.get_nowait()
                if size == 1 and batch == 1:
                    ids.append((await _exchange(reader, writer, single))["id"])
                else:
                    body = json.dumps({"submissions": [HELLO] * size}).encode()
                    batch_request = http1.request("POST", host, port, "/v1/runs/batch", body)
                    reply = await _exchange(reader, writer, batch_request)
                    ids.extend(run["id"] for run in reply["runs"])
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*(submitter() for _ in range(concurrency)))
    return ids


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, message: bytes) -> Any:
    """Send one request on a kept-alive connection; the JSON of its 2xx answer."""
    status, body = await http1.exchange(reader, writer, message)
    if not 200 <= status < 300:
        raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
    return json.loads(body)


def check_results(url: str, ids: list[str], batch: int) -> dict[str, int]:
    """Every run must be done, ok, and have printed hello."""
    outcomes: dict[str, int] = {}
    with httpx.Client(base_url=url, timeout=60) as client:
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            runs = client.get("/v1/runs/batch", params={"ids": ",".join(chunk)}).json()["runs"]
            for run in runs:
                good = run["status"] == "done" and run["verdict"] == "ok"
                key = "ok" if good and run["stdout"] == "hello\n" else f"{run['status']}/{run['verdict']}"
                outcomes[key] = outcomes.get(key, 0) + 1
    return outcomes


def cpu_by_part(service: Service) -> dict[str, float]:
    return {child.name: cpu_s(child.process.pid) for child in service.children}


def throughput(service: Service, jobs: int, concurrency: int, batch: int) -> dict[str, Any]:
    finished = Finished(service.settings.broker)
    try:
        cpu_before, client_before = cpu_by_part(service), time.process_time()
        start = time.monotonic()
        ids = asyncio.run(submit_all(service.url, jobs, concurrency, batch))
        submitted = time.monotonic()
        end = finished.wait_for(set(ids), timeout_s=600)
        cpu_after, client_after = cpu_by_part(service), time.process_time()
    finally:
        finished.close()
    cpu_ms = {name: (cpu_after[name] - cpu_before[name]) * 1000 / jobs for name in cpu_after}
    cpu_ms["client"] = (client_after - client_before) * 1000 / jobs
    outcomes = check_results(service.url, ids, service.settings.batch_max_size)
    return {
        "jobs": jobs,
        "runs_per_request": batch,
        "client_concurrency": concurrency,
        "submit_rate_per_s": jobs / (submitted - start),
        "jobs_per_s": jobs / (end - start),
        "cpu_ms_per_job": cpu_ms,
        "outcomes": outcomes,
    }


def latency(service: Service, runs: int, warmup: int, pause_s: float) -> dict[str, Any]:
    samples: list[float] = []
    with httpx.Client(base_url=service.url, timeout=60) as client:
        for index in range(warmup + runs):
            time.sleep(pause_s)
            start = time.perf_counter()
            response = client.post("/v1/runs", params={"wait": "true"}, json=HELLO)
            elapsed = time.perf_counter() - start
            if response.status_code != 200 or response.json()["verdict"] != "ok":
                raise RuntimeError(f"wait=true run failed: {response.status_code} {response.text}")
            if index >= warmup:
                samples.append(elapsed * 1000)
    quantiles = statistics.quantiles(samples, n=100)
    return {
        "runs": runs,
        "pause_between_s": pause_s,
        "p50_ms": statistics.median(samples),
        "p95_ms": quantiles[94],
        "min_ms": min(samples),
        "max_ms": max(samples),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of anchors and throughput")
    parser.add_argument("--jobs", type=int, default=600, help="jobs per throughput measurement")
    parser.add_argument("--concurrency", type=int, default=16, help="clients submitting at once")
    parser.add_argument("--latency-runs", type=int, default=200)
    parser.add_argument("--spawns", type=int, default=200, help="bare python3 runs per core and round")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    cores = os.cpu_count() or 1
    bwrap = bwrap_wrapper(images.debian_python())

    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="jaula-bench-") as data_dir:
        settings = Settings(
            data_dir=Path(data_dir),
            images_dir=Settings().images_path,
            local_redis_port=free_port(),
            max_queued_jobs=max(10_000, args.jobs),
            log_level="warning",
        )
        with Service(settings, port=free_port()) as service:
            if not service.wait_ready(timeout_s=60):
                raise SystemExit(f"the service did not become ready: see {service.url}/healthz")
            latency(service, runs=10, warmup=0, pause_s=0)  # warm the worker's launchers
            for number in range(1, args.rounds + 1):
                rounds.append(measure_round(service, args, cores, bwrap))
                print_round(number, rounds[-1])
            lat = latency(service, args.latency_runs, warmup=20, pause_s=0.05)
            print(
                f"jaula   wait=true latency: p50 {lat['p50_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms "
                f"(min {lat['min_ms']:.1f}, max {lat['max_ms']:.1f}; {args.latency_runs} runs)"
            )

    figures = summarize(rounds)
    print(
        f"median  of {len(rounds)} rounds: bare {figures['bare_spawns_per_s']:.0f} spawns/s "
        f"({figures['bare_cpu_ms_per_spawn']:.1f} ms CPU each); bubblewrap alone "
        f"{figures['bwrap_ratio']:.0%} of it, jaula's sandbox alone {figures['sandbox_alone_ratio']:.0%}; "
        f"jaula CPU per job {figures['service_cpu_ms_per_job']:.1f} ms (all its processes, the program "
        f"included): a CPU-bound ceiling of {figures['cpu_ceiling_ratio']:.0%}"
    )
    print(
        f"ratio   throughput / bare spawn rate = {figures['throughput_ratio']:.0%} one per POST "
        f"({_range(rounds, 'put_ratio')}), {figures['throughput_batched_ratio']:.0%} in batches "
        f"({_range(rounds, 'batched_ratio')})   (target >= 50%)"
    )
    print(f"target  p50 latency <= 25 ms: {'met' if lat['p50_ms'] <= 25 else 'not met'}")
    figures |= {"latency": lat, "settings": {"worker_concurrency": settings.worker_concurrency}}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def measure_round(service: Service, args: argparse.Namespace, cores: int, bwrap: list[str]) -> dict[str, Any]:
    """The anchors and both throughputs, back to back: their ratios share the machine's mood."""
    bare, bare_cpu_ms = spawn_rate(args.spawns, cores)
    wrapped, _ = spawn_rate(args.spawns // 2, cores, bwrap)
    direct, direct_cpu_ms = sandbox_rate(service.settings, args.spawns // 2, cores)
    put = throughput(service, args.jobs, args.concurrency, batch=1)
    batched = throughput(service, args.jobs, 4, batch=service.settings.batch_max_size)
    return {
        "bare_spawns_per_s": bare,
        "bare_cpu_ms_per_spawn": bare_cpu_ms,
        "bwrap_spawns_per_s": wrapped,
        "sandbox_alone_runs_per_s": direct,
        "sandbox_alone_cpu_ms_per_run": direct_cpu_ms,
        "sandbox_alone_ratio": direct / bare,
        "throughput": put,
        "throughput_batched": batched,
        "bwrap_ratio": wrapped / bare,
        "put_ratio": put["jobs_per_s"] / bare,
        "batched_ratio": batched["jobs_per_s"] / bare,
    }


def print_round(number: int, r: dict[str, Any]) -> None:
    put, batched = r["throughput"], r["throughput_batched"]
    print(
        f"round {number}: bare {r['bare_spawns_per_s']:.0f} spawns/s "
        f"({r['bare_cpu_ms_per_spawn']:.1f} ms CPU each), bubblewrap {r['bwrap_spawns_per_s']:.0f}/s "
        f"({r['bwrap_ratio']:.0%}), jaula's sandbox alone {r['sandbox_alone_runs_per_s']:.0f}/s "
        f"({r['sandbox_alone_ratio']:.0%}); jaula one run per POST "
        f"{put['jobs_per_s']:.1f} jobs/s ({r['put_ratio']:.0%}), batches of 20 {batched['jobs_per_s']:.1f} "
        f"({r['batched_ratio']:.0%}); outcomes {put['outcomes']} {batched['outcomes']}"
    )
    parts = ", ".join(f"{k} {v:.1f}" for k, v in put["cpu_ms_per_job"].items())
    print(f"         CPU ms per job (one per POST): {parts} (the worker's includes the sandbox and program)")


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    def median(key: str) -> float:
        return float(statistics.median(r[key] for r in rounds))

    service_cpu_ms = statistics.median(
        sum(r["throughput"]["cpu_ms_per_job"].values()) - r["throughput"]["cpu_ms_per_job"]["client"]
        for r in rounds
    )
    bare_cpu_ms = median("bare_cpu_ms_per_spawn")
    return {
        "rounds": rounds,
        "bare_spawns_per_s": median("bare_spawns_per_s"),
        "bare_cpu_ms_per_spawn": bare_cpu_ms,
        "bwrap_ratio": median("bwrap_ratio"),
        "sandbox_alone_cpu_ms_per_run": median("sandbox_alone_cpu_ms_per_run"),
        "sandbox_alone_ratio": median("sandbox_alone_ratio"),
        "service_cpu_ms_per_job": service_cpu_ms,
        "cpu_ceiling_ratio": bare_cpu_ms / service_cpu_ms,
        "throughput_ratio": median("put_ratio"),
        "throughput_batched_ratio": median("batched_ratio"),
        "jobs_per_s": statistics.median(r["throughput"]["jobs_per_s"] for r in rounds),
        "jobs_per_s_batched": statistics.median(r["throughput_batched"]["jobs_per_s"] for r in rounds),
    }


def _range(rounds: list[dict[str, Any]], key: str) -> str:
    return f"{min(r[key] for r in rounds):.0%}-{max(r[key] for r in rounds):.0%}"


if __name__ == "__main__":
    main()
