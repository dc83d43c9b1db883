"""Figures of one load-test stage, from the locustfile's event log and the host samples.

The event log (JAULA_LOADTEST_EVENTS, see locustfile.py) has one JSON line per HTTP request and
per job (type JOB), each stamped when it ended, plus MARK lines (start, spawned, stopping, quit).
Rates and percentiles are taken over a steady window: from `warmup_s` after every user was
spawned until Locust began to stop them. Percentiles are exact (nearest rank), not Locust's
rounded buckets.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JsonObject = dict[str, Any]

DISTURBED_CORES = 0.3
"""A stage during which the host spent more than this many cores beyond the service's, Locust's
and the kernel threads' CPU time was disturbed: its figures measure the neighbours too."""


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0-100) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def load_events(path: Path) -> list[JsonObject]:
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        if line.strip():
            events.append(json.loads(line))
    return events


def marks(events: Iterable[JsonObject]) -> dict[str, JsonObject]:
    """The first MARK of each name."""
    found: dict[str, JsonObject] = {}
    for event in events:
        if event["type"] == "MARK":
            found.setdefault(event["name"], event)
    return found


@dataclass(frozen=True)
class Window:
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 1e-9)

    def __contains__(self, t: float) -> bool:
        return self.start <= t <= self.end


def steady_window(events: Sequence[JsonObject], warmup_s: float) -> Window:
    """From `warmup_s` after the last user was spawned until Locust began to stop them."""
    found = marks(events)
    times = [e["t"] for e in events]
    spawned = found.get("spawned", found.get("start", {"t": min(times, default=0.0)}))["t"]
    end = found.get("stopping", {"t": max(times, default=spawned)})["t"]
    start = min(spawned + warmup_s, end)
    return Window(start, end)


def latency_row(samples: Sequence[float], failures: int, window: Window) -> JsonObject:
    return {
        "count": len(samples) + failures,
        "failures": failures,
        "per_s": (len(samples) + failures) / window.seconds,
        "p50_ms": percentile(samples, 50),
        "p95_ms": percentile(samples, 95),
        "p99_ms": percentile(samples, 99),
        "max_ms": max(samples) if samples else None,
    }


def summarize(events: Sequence[JsonObject], window: Window) -> JsonObject:
    """Per-name rows for HTTP requests and for jobs inside the window, and every failure of the
    whole run (a failure outside the window still fails the run)."""
    ok: dict[tuple[str, str], list[float]] = {}
    failed: Counter[tuple[str, str]] = Counter()
    for event in events:
        if event["type"] == "MARK" or event["t"] not in window:
            continue
        key = ("job" if event["type"] == "JOB" else "http", event["name"])
        if event["error"] is None:
            ok.setdefault(key, []).append(event["ms"])
        else:
            failed[key] += 1
    rows: dict[str, dict[str, JsonObject]] = {"http": {}, "job": {}}
    for kind, name in sorted(set(ok) | set(failed)):
        rows[kind][name] = latency_row(ok.get((kind, name), []), failed[(kind, name)], window)
    all_failures = [e for e in events if e["type"] != "MARK" and e["error"] is not None]
    errors = Counter(f"{e['type']} {e['name']}: {e['error']}" for e in all_failures)
    jobs_ok = [ms for (kind, _), values in ok.items() if kind == "job" for ms in values]
    spawned = marks(events).get("spawned", {})
    return {
        "window_s": window.seconds,
        "users": spawned.get("users"),
        "user_classes": spawned.get("classes", {}),
        "http": rows["http"],
        "jobs": rows["job"],
        "http_per_s": sum(r["count"] for r in rows["http"].values()) / window.seconds,
        "jobs_per_s": sum(r["count"] for r in rows["job"].values()) / window.seconds,
        "jobs_p50_ms": percentile(jobs_ok, 50),
        "jobs_p95_ms": percentile(jobs_ok, 95),
        "failed_requests": sum(1 for e in all_failures if e["type"] != "JOB"),
        "failed_jobs": sum(1 for e in all_failures if e["type"] == "JOB"),
        "requests_total": sum(1 for e in events if e["type"] not in ("MARK", "JOB")),
        "jobs_total": sum(1 for e in events if e["type"] == "JOB"),
        "errors": dict(errors.most_common(20)),
    }


def host_usage(samples: Sequence[JsonObject], window: Window) -> JsonObject:
    """Host CPU (busy and stolen shares of all cores, /proc/stat) and the CPU seconds of each
    part of the service and of Locust, between the samples that bracket the window."""
    inside = [s for s in samples if window.start - 1.5 <= s["t"] <= window.end + 1.5]
    if len(inside) < 2:
        return {}
    first, last = inside[0], inside[-1]
    elapsed = last["cpu"]["busy_s"] + last["cpu"]["idle_s"] + last["cpu"]["steal_s"]
    elapsed -= first["cpu"]["busy_s"] + first["cpu"]["idle_s"] + first["cpu"]["steal_s"]
    if elapsed <= 0:
        return {}
    parts = {
        name: last["cpu_s"].get(name, 0.0) - first["cpu_s"].get(name, 0.0)
        for name in last["cpu_s"]
        if name in first["cpu_s"]
    }
    seconds = last["t"] - first["t"]
    busy = (last["cpu"]["busy_s"] - first["cpu"]["busy_s"]) / elapsed
    cores = last["cpu"]["cores"]
    # What the host spent beyond this run's processes and the kernel's threads (which work for
    # the containers: RCU grace periods, namespace and cgroup teardown): other users of this
    # shared machine, and interrupts.
    accounted = sum(parts.values()) / seconds if seconds > 0 else 0.0
    other = max(0.0, busy * cores - accounted)
    return {
        "seconds": seconds,
        "cores": last["cpu"]["cores"],
        "busy": busy,
        "other_cores": other,
        "disturbed": other > DISTURBED_CORES,
        "steal": (last["cpu"]["steal_s"] - first["cpu"]["steal_s"]) / elapsed,
        "parts_cpu_s": parts,
        "parts_cores": {name: value / seconds for name, value in parts.items()} if seconds > 0 else {},
        "queued_max": max(s["queue"]["queued"] for s in inside),
        "loadavg_end": last["loadavg"],
    }


def knee(all_steps: Sequence[JsonObject], reference: str, factor: float = 2.0) -> JsonObject:
    """The most users served before the reference job's p50 passed `factor` x its value at the
    lightest step (the latency curve's turn upward), and the best throughput seen. Disturbed
    stages (see DISTURBED_CORES) are left out."""
    steps = [s for s in all_steps if not s.get("host", {}).get("disturbed")]
    base = next((s["jobs"].get(reference, {}).get("p50_ms") for s in steps), None)
    result: JsonObject = {
        "reference": reference,
        "factor": factor,
        "baseline_p50_ms": base,
        "disturbed_users_left_out": [s["users"] for s in all_steps if s not in steps],
    }
    best = max(steps, key=lambda s: s["jobs_per_s"], default=None)
    if best is not None:
        result["max_jobs_per_s"] = best["jobs_per_s"]
        result["max_jobs_per_s_users"] = best["users"]
    if base is None:
        return result
    within = None
    for step in steps:
        p50 = step["jobs"].get(reference, {}).get("p50_ms")
        if p50 is None or p50 > factor * base:
            break
        within = step
    if within is not None:
        result["users"] = within["users"]
        result["jobs_per_s"] = within["jobs_per_s"]
        result["p50_ms"] = within["jobs"][reference]["p50_ms"]
    return result
