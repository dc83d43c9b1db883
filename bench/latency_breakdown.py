"""Where the time of one `?wait=true` Python hello world goes, segment by segment.

    sudo .venv/bin/python bench/latency_breakdown.py [--runs 100] [--pause 0.05] [--json FILE]
                                                     [--database-url postgresql://...]

Starts the service as `jaula up` does (core.cli.up.Service: its own redis-server, SQLite under a
temporary data dir unless --database-url names another database, a Celery worker, uvicorn),
sends single `POST /v1/runs?wait=true` requests one at a time, and places each request's events
on one clock (the host's wall clock, shared by every process here):

    sent          the client starts the request                           (client)
    queued_at     the API is about to insert the row                      (runs table)
    lpush         the API's message reaches Redis                         (Redis MONITOR)
    received      the worker's Redis transport takes the message in       (MONITOR: the HSET of
                  kombu's unacked hash, issued right after the BRPOP that delivered it)
    started_at    the worker is about to claim the run                    (runs table)
    finished_at   the worker is about to store the result                 (runs table)
    publish       the worker's announcement reaches Redis                 (MONITOR)
    answered      the client has the whole response                       (client)

and prints the median (and p90) of each segment between consecutive events, with the program's
own wall time (`wall_time_ms`, measured by the sandbox) beside the execute segment. MONITOR
costs Redis a little CPU; the figures are for finding where time goes, `bench/service.py` is the
benchmark of record.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import create_engine, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.cli.up import Service
from core.config import Settings
from core.db import normalise_url
from core.models import Run
from core.queue import FINISHED_CHANNEL, QUEUE

HELLO = {"language": "python", "source": "print('hello')"}
EVENTS = ("sent", "queued_at", "lpush", "received", "started_at", "finished_at", "publish", "answered")
SEGMENTS = {
    "sent -> queued_at": "HTTP in, parse, validate, hop to a thread",
    "queued_at -> lpush": "INSERT + COMMIT, build and send the Celery message",
    "lpush -> received": "Redis -> the worker's transport (BRPOP wake-up)",
    "received -> started_at": "Celery dispatch to a pool thread, read the run",
    "started_at -> finished_at": "claim + COMMIT, compile/run in the sandbox",
    "finished_at -> publish": "finish UPDATE + COMMIT, announce",
    "publish -> answered": "API wakes, reads the run, responds; client parses",
}


@dataclass
class Monitor:
    """Redis MONITOR in a thread: when the commands that name a run id reached the server."""

    url: str
    seen: dict[str, dict[str, float]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        self._ready.wait(5)

    def _watch(self) -> None:
        client = redis.Redis.from_url(self.url, socket_timeout=0.5)
        with client.monitor() as monitor:  # type: ignore[no-untyped-call]
            self._ready.set()
            while not self._stop.is_set():
                try:
                    command = monitor.next_command()
                except redis.TimeoutError:
                    continue
                except redis.ConnectionError:
                    return
                self._note(command)

    def _note(self, command: dict[str, Any]) -> None:
        words = command["command"].split(" ", 2)
        verb = words[0].upper()
        when = float(command["time"])
        if verb == "LPUSH" and len(words) > 1 and words[1] == QUEUE:
            event = "lpush"
        elif verb == "HSET" and "unacked" in words[1]:
            event = "received"
        elif verb == "PUBLISH" and len(words) > 1 and words[1] == FINISHED_CHANNEL:
            event = "publish"
        else:
            return
        for run_id in _uuids(command["command"]):
            self.seen.setdefault(run_id, {}).setdefault(event, when)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


def _uuids(text: str) -> Iterator[str]:
    # A run's id appears verbatim in the message body (args), in the headers and in PUBLISH.
    for word in text.replace('"', " ").replace("'", " ").replace("\\", " ").replace(",", " ").split():
        word = word.strip("[]{}()")
        if len(word) == 36 and word.count("-") == 4:
            try:
                yield str(uuid.UUID(word))
            except ValueError:
                continue


def timestamp(value: datetime | None) -> float:
    assert value is not None
    return value.replace(tzinfo=UTC).timestamp() if value.tzinfo is None else value.timestamp()


def measure(
    service: Service, database: str, runs: int, warmup: int, pause_s: float
) -> dict[uuid.UUID, dict[str, float]]:
    """Per run: its events' times (seconds since the epoch), and `program`: the program's own
    wall time (ms)."""
    monitor = Monitor(service.settings.broker)
    monitor.start()
    engine = create_engine(normalise_url(database))
    samples: dict[uuid.UUID, dict[str, float]] = {}
    try:
        with httpx.Client(base_url=service.url, timeout=60) as client:
            for index in range(warmup + runs):
                time.sleep(pause_s)
                sent = time.time()
                response = client.post("/v1/runs", params={"wait": "true"}, json=HELLO)
                answered = time.time()
                body = response.json()
                if response.status_code != 200 or body["verdict"] != "ok":
                    raise RuntimeError(f"wait=true run failed: {response.status_code} {response.text}")
                if index >= warmup:
                    program = float(body["wall_time_ms"])
                    samples[uuid.UUID(body["id"])] = {"sent": sent, "answered": answered, "program": program}
        time.sleep(0.3)  # the last announcements and MONITOR lines
    finally:
        monitor.stop()
    with engine.connect() as connection:
        for run_id, sample in samples.items():
            row = connection.execute(
                select(Run.queued_at, Run.started_at, Run.finished_at).where(Run.id == run_id)
            ).one()
            sample["queued_at"] = timestamp(row.queued_at)
            sample["started_at"] = timestamp(row.started_at)
            sample["finished_at"] = timestamp(row.finished_at)
            sample.update(monitor.seen.get(str(run_id), {}))
    engine.dispose()
    return samples


def summarise(samples: Iterable[dict[str, float]]) -> dict[str, dict[str, float]]:
    samples = list(samples)
    figures: dict[str, dict[str, float]] = {}
    for name in [*SEGMENTS, "sent -> answered"]:
        start, end = name.split(" -> ")
        values = [(s[end] - s[start]) * 1000 for s in samples if start in s and end in s]
        if len(values) < 2:
            continue
        figures[name] = {
            "p50_ms": statistics.median(values),
            "p90_ms": statistics.quantiles(values, n=10)[8],
            "samples": len(values),
        }
    figures["program wall_time_ms"] = {
        "p50_ms": statistics.median(s["program"] for s in samples),
        "p90_ms": statistics.quantiles([s["program"] for s in samples], n=10)[8],
        "samples": len(samples),
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.05, help="seconds between requests")
    parser.add_argument("--database-url", help="default: SQLite in the temporary data dir")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="jaula-breakdown-") as data_dir:
        settings = Settings(
            data_dir=Path(data_dir),
            images_dir=Settings().images_path,
            database_url=args.database_url,
            local_redis_port=_free_port(),
            log_level="warning",
        )
        with Service(settings, port=_free_port()) as service:
            if not service.wait_ready(timeout_s=60):
                raise SystemExit(f"the service did not become ready: see {service.url}/healthz")
            samples = measure(service, settings.database, args.runs, args.warmup, args.pause)

    figures = summarise(samples.values())
    print(f"{'segment':28} {'p50 ms':>7} {'p90 ms':>7}   what")
    for name, figure in figures.items():
        what = SEGMENTS.get(name, "")
        print(f"{name:28} {figure['p50_ms']:7.2f} {figure['p90_ms']:7.2f}   {what}")
    if args.json:
        by_id = {str(run_id): sample for run_id, sample in samples.items()}
        args.json.write_text(json.dumps({"segments": figures, "samples": by_id}, indent=2) + "\n")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


if __name__ == "__main__":
    main()
