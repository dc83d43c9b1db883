"""The load test's report: what failed, Markdown tables, and the charts (matplotlib, Agg)."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

JsonObject = dict[str, Any]

MEMORY_PARTS = {"api": "API (uvicorn)", "worker": "worker (celery)", "redis": "redis-server"}
GROWTH_MIN_SECONDS = 300.0
"""Memory growth is judged only on single-stage runs at least this long (a soak)."""
GROWTH_LIMIT_MIB, GROWTH_LIMIT_SHARE = 10.0, 0.10
"""Growth past both of these (last fifth against the first fifth, after a minute) is a problem."""


def machine() -> JsonObject:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kib = 0
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def git_commit(repo: Path) -> str:
    """The checkout's commit (`-dirty` with local changes). A copy made with `git archive` (to
    measure one commit while others edit the working tree) is not a checkout: say so, and name
    the copy's directory (e.g. /tmp/jaula-<commit>)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return f"{repo.name} (not a git checkout)"
    return out.stdout.strip()


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _classes(stage: JsonObject) -> str:
    classes = stage.get("user_classes") or {}
    short = {"PlaygroundUser": "P", "BadActor": "B", "Grader": "G"}
    return "/".join(f"{classes.get(name, 0)}{letter}" for name, letter in short.items())


def stage_line(stage: JsonObject) -> str:
    ref = stage["jobs"].get("python hello [wait]", {})
    busy = stage.get("host", {}).get("busy")
    other = stage.get("host", {}).get("other_cores", 0.0)
    return (
        f"   {stage['users']} users: {stage['http_per_s']:.1f} HTTP req/s, {stage['jobs_per_s']:.2f} jobs/s, "
        f"{stage['database'].get('container_runs_per_s', 0):.1f} container runs/s, python hello p50 "
        f"{_ms(ref.get('p50_ms'))} ms p95 {_ms(ref.get('p95_ms'))} ms, host CPU "
        f"{'-' if busy is None else f'{busy:.0%}'} (others {other:.2f} cores), failures "
        f"{stage['failed_requests']} requests + {stage['failed_jobs']} jobs"
        + (" DISTURBED" if stage.get("host", {}).get("disturbed") else "")
    )


# -- memory over time ---------------------------------------------------------------------------------


def memory_series(samples: Sequence[JsonObject]) -> dict[str, list[tuple[float, float]]]:
    """(seconds since the first sample, MiB) per part: each main process, and the sandbox helpers."""
    if not samples:
        return {}
    t0 = samples[0]["t"]
    series: dict[str, list[tuple[float, float]]] = {}
    for sample in samples:
        for part in MEMORY_PARTS:
            if part in sample["rss_mib"]:
                series.setdefault(part, []).append((sample["t"] - t0, sample["rss_mib"][part]))
        series.setdefault("sandbox helpers", []).append((sample["t"] - t0, sample["sandbox_helpers_rss_mib"]))
    return series


def memory_growth(samples: Sequence[JsonObject]) -> dict[str, JsonObject]:
    """Per part: median RSS of the first and the last fifth of the run after its first minute."""
    growth: dict[str, JsonObject] = {}
    for part, points in memory_series(samples).items():
        steady = [mib for t, mib in points if t >= 60.0]
        if len(steady) < 10:
            continue
        fifth = max(1, len(steady) // 5)
        first, last = statistics.median(steady[:fifth]), statistics.median(steady[-fifth:])
        growth[part] = {
            "first_mib": first,
            "last_mib": last,
            "growth_mib": last - first,
            "growth_share": (last - first) / first if first else 0.0,
            "max_mib": max(steady),
        }
    return growth


# -- what failed --------------------------------------------------------------------------------------


def problems(outcome: JsonObject) -> list[str]:
    found: list[str] = []
    for stage in outcome["stages"]:
        where = f"{stage['users']} users"
        if stage["failed_requests"] or stage["failed_jobs"]:
            found.append(
                f"{where}: {stage['failed_requests']} failed requests, {stage['failed_jobs']} failed jobs"
            )
        if not stage["jobs_total"]:
            found.append(f"{where}: no job ran (Locust exit status {stage['locust_exit']}; see locust.log)")
        if stage["unfinished_after_drain"]:
            found.append(f"{where}: {stage['unfinished_after_drain']} jobs not final 300 s after the stage")
    if outcome.get("unfinished"):
        found.append(f"{outcome['unfinished']} jobs not in a final state at the end")
    for table, counts in outcome.get("database", {}).items():
        if counts.get("failed"):
            found.append(f"{counts['failed']} {table} failed (the sandbox could not run them)")
    if outcome.get("service_exit") not in (0, None):
        found.append(f"jaula up exited with status {outcome['service_exit']} when stopped")
    residue = outcome.get("residue")
    if residue:
        for kind in ("mounts", "cgroups", "processes", "scratch"):
            if residue[kind]:
                found.append(f"left after the stop: {len(residue[kind])} {kind}: {residue[kind][:5]}")
    samples = outcome.get("samples") or []
    # Only a single long stage (a soak) has a steady load to judge memory against: across steps
    # the load changes, and the second sandbox launcher starts only once two jobs overlap.
    steady = len(outcome["stages"]) == 1
    if steady and samples and samples[-1]["t"] - samples[0]["t"] >= GROWTH_MIN_SECONDS:
        for part, g in memory_growth(samples).items():
            if g["growth_mib"] > GROWTH_LIMIT_MIB and g["growth_share"] > GROWTH_LIMIT_SHARE:
                found.append(f"{part} memory grew {g['first_mib']:.1f} -> {g['last_mib']:.1f} MiB")
    return found


def verdict_text(outcome: JsonObject) -> str:
    if not outcome["problems"]:
        return "PASSED: no failed request or job, every job final, nothing left behind"
    return "FAILED:\n" + "\n".join(f"  - {p}" for p in outcome["problems"])


# -- Markdown -----------------------------------------------------------------------------------------


def markdown(outcome: JsonObject) -> str:
    m = outcome["machine"]
    lines = [
        f"# jaula load test: {outcome['mode']} ({outcome['started']})",
        "",
        f"- machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, kernel {m['kernel']}; "
        f"code: {outcome['checkout']} at commit {outcome['commit']}",
        f"- load average (1/5/15 min) at the start {_load(outcome['loadavg_start'])}, "
        f"at the end {_load(outcome['loadavg_end'])}",
        "- service: `jaula up` on 127.0.0.1 (SQLite, its own redis-server, one worker; see service.log); "
        "Locust runs on the same host and its CPU is counted in the host's",
        "- others' CPU: what the host's CPU did beyond this run's processes (service and Locust) and the "
        "kernel's threads (which work for the containers: RCU, namespace and cgroup teardown): other users "
        "of this shared machine, and interrupts; a stage with more than 0.3 cores of it is marked disturbed",
        "- windows: from the warm-up after the last user was spawned until Locust began stopping users; "
        "latencies are exact nearest-rank percentiles; a JOB is one program (or one grading) from its POST "
        "to its checked result",
        "",
        "**Result: "
        + (
            "passed**: no failed request or job, every job final, nothing left behind."
            if not outcome["problems"]
            else "FAILED**:"
        ),
        "",
    ]
    lines += [f"- {problem}" for problem in outcome["problems"]]
    lines += [""] if outcome["problems"] else []
    lines += _stages_table(outcome["stages"])
    if "knee" in outcome:
        k = outcome["knee"]
        lines += [
            "",
            f"Knee (the most users before the p50 of `{k['reference']}` passed {k['factor']:g}x its value at "
            f"the lightest step, {_ms(k.get('baseline_p50_ms'))} ms; disturbed stages left out: "
            f"{k.get('disturbed_users_left_out') or 'none'}): **{k.get('users', '-')} users**, "
            f"{k.get('jobs_per_s', 0):.2f} jobs/s; most jobs/s seen: {k.get('max_jobs_per_s', 0):.2f} "
            f"at {k.get('max_jobs_per_s_users', '-')} users.",
            "",
            "![throughput and latency against users](loadtest-steps.png)",
        ]
    for stage in outcome["stages"]:
        lines += _stage_detail(stage)
    lines += _memory_section(outcome)
    lines += _end_section(outcome)
    return "\n".join(lines) + "\n"


def _load(values: Sequence[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def _stages_table(stages: Sequence[JsonObject]) -> list[str]:
    lines = [
        "| users (P/B/G) | window s | HTTP req/s | jobs/s | container runs/s "
        "| python hello [wait] p50 / p95 ms | all jobs p50 / p95 ms | queue wait p50 ms "
        "| slot time to gradings | host CPU busy (steal) | others' CPU | Locust CPU | failures (req+jobs) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in stages:
        ref = s["jobs"].get("python hello [wait]", {})
        h = s.get("host", {})
        locust_cores = h.get("parts_cores", {}).get("locust")
        lines.append(
            f"| {s['users']} ({_classes(s)}) | {s['window_s']:.0f} | {s['http_per_s']:.1f} "
            f"| {s['jobs_per_s']:.2f} "
            f"| {s['database'].get('container_runs_per_s', 0):.1f} "
            f"| {_ms(ref.get('p50_ms'))} / {_ms(ref.get('p95_ms'))} "
            f"| {_ms(s['jobs_p50_ms'])} / {_ms(s['jobs_p95_ms'])} "
            f"| {_ms(s['database'].get('queue_wait_p50_ms'))} | {_pct(_grading_share(s['database']))} "
            f"| {_pct(h.get('busy'))} ({_pct(h.get('steal'))}) "
            f"| {h.get('other_cores', 0):.2f} cores{' (disturbed)' if h.get('disturbed') else ''} "
            f"| {'-' if locust_cores is None else f'{locust_cores:.2f} cores'} "
            f"| {s['failed_requests']} + {s['failed_jobs']} |"
        )
    return lines


def _grading_share(db: JsonObject) -> float | None:
    total = db.get("slot_s_runs", 0.0) + db.get("slot_s_gradings", 0.0)
    return db.get("slot_s_gradings", 0.0) / total if total else None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _stage_detail(stage: JsonObject) -> list[str]:
    db = stage["database"]
    h = stage.get("host", {})
    lines = [
        "",
        f"## {stage['users']} users ({_classes(stage)}), {stage['plan']['duration_s']} s",
        "",
        f"Load average before: {_load(stage['loadavg_before'])}. Server side (database, runs finished in the "
        f"window): {db.get('runs', 0)} runs and {db.get('grading_tests', 0)} grading tests, "
        f"{db.get('container_runs_per_s', 0):.1f} container runs/s; queue wait p50 "
        f"{_ms(db.get('queue_wait_p50_ms'))} ms, p95 {_ms(db.get('queue_wait_p95_ms'))} ms; claim to "
        f"finish p50 {_ms(db.get('service_p50_ms'))} ms, p95 {_ms(db.get('service_p95_ms'))} ms; most jobs "
        f"queued at once {h.get('queued_max', '-')}.",
    ]
    slots = db.get("slot_s_runs", 0.0) + db.get("slot_s_gradings", 0.0)
    if slots:
        lines.append(
            f"Worker slot time (claim to finish) of the jobs finished in the window: runs "
            f"{db['slot_s_runs']:.0f} s, grading submissions {db['slot_s_gradings']:.0f} s "
            f"({db['slot_s_gradings'] / slots:.0%})."
        )
    cores = h.get("parts_cores", {})
    if cores:
        lines += [
            "CPU (cores busy on average): "
            + ", ".join(f"{name} {value:.2f}" for name, value in sorted(cores.items()))
            + " (worker includes its launchers, containers and programs).",
        ]
    lines += ["", "| job (end to end) | count | per s | p50 ms | p95 ms | p99 ms | max ms | failures |"]
    lines += ["|---|---|---|---|---|---|---|---|"]
    for name, row in stage["jobs"].items():
        lines.append(_row(name, row))
    lines += ["", "| HTTP request | count | per s | p50 ms | p95 ms | p99 ms | max ms | failures |"]
    lines += ["|---|---|---|---|---|---|---|---|"]
    for name, row in stage["http"].items():
        lines.append(_row(name, row))
    if stage["errors"]:
        lines += ["", "Failures (whole stage, by message):", ""]
        lines += [f"- {count} x {message}" for message, count in stage["errors"].items()]
    return lines


def _row(name: str, row: JsonObject) -> str:
    return (
        f"| {name} | {row['count']} | {row['per_s']:.2f} | {_ms(row['p50_ms'])} | {_ms(row['p95_ms'])} "
        f"| {_ms(row['p99_ms'])} | {_ms(row['max_ms'])} | {row['failures']} |"
    )


def _memory_section(outcome: JsonObject) -> list[str]:
    samples = outcome.get("samples") or []
    if not samples:
        return []
    series = memory_series(samples)
    t0 = samples[0]["t"]
    span = samples[-1]["t"] - t0
    step = 60.0 if span >= 600 else max(span / 10, 1.0)
    lines = [
        "",
        "## Memory (RSS, MiB) and queue over time",
        "",
        "Each main process's resident memory; *sandbox helpers* are the worker's launchers and zygotes "
        "(root processes under it), without the containers.",
        "",
        "| t (s) | " + " | ".join(series) + " | queued | load avg |",
        "|---|" + "---|" * (len(series) + 2),
    ]
    next_t = 0.0
    for sample in samples:
        t = sample["t"] - t0
        if t + 1e-6 < next_t and sample is not samples[-1]:
            continue
        next_t = t + step
        values = []
        for part in series:
            mib = (
                sample["sandbox_helpers_rss_mib"]
                if part == "sandbox helpers"
                else sample["rss_mib"].get(part)
            )
            values.append("-" if mib is None else f"{mib:.1f}")
        lines.append(
            f"| {t:.0f} | "
            + " | ".join(values)
            + f" | {sample['queue']['queued']} | {sample['loadavg'][0]:.2f} |"
        )
    growth = memory_growth(samples)
    if growth:
        lines += [
            "",
            "Growth (median of the last fifth against the first fifth, after the first minute):",
            "",
        ]
        lines += [
            f"- {part}: {g['first_mib']:.1f} -> {g['last_mib']:.1f} MiB ({g['growth_mib']:+.1f} MiB, "
            f"{g['growth_share']:+.1%}), peak {g['max_mib']:.1f}"
            for part, g in growth.items()
        ]
    lines += ["", "![memory, CPU and queue over time](loadtest-series.png)"]
    return lines


def _end_section(outcome: JsonObject) -> list[str]:
    lines = ["", "## At the end", ""]
    db = outcome.get("database")
    if db:
        lines.append(f"- jobs in the database by status: runs {db.get('runs')}, grading submissions "
                     f"{db.get('grading_submissions')}; not final: {outcome.get('unfinished')}")  # fmt: skip
    lines.append(f"- `jaula up` exit status after SIGTERM: {outcome.get('service_exit')}")
    residue = outcome.get("residue")
    if residue:
        lines.append(
            f"- left by this run after the stop: mounts {len(residue['mounts'])}, cgroups "
            f"{len(residue['cgroups'])}, processes {len(residue['processes'])}, scratch files "
            f"{len(residue['scratch'])} (launchers watched: {len(outcome.get('launchers', []))}, "
            f"sandbox uids seen: {outcome.get('sandbox_uids')})"
        )
        lines.append(
            f"- others' at the same moment (other jaula instances or tests on this host): cgroups under "
            f"`jaula/` {residue['other_cgroups']}, live sandbox-uid processes "
            f"{residue['other_sandbox_processes']}, "
            f"sandbox-uid zombies {residue['sandbox_zombies']}"
        )
    return lines


# -- charts ---------------------------------------------------------------------------------------------


def plot_steps(outcome: JsonObject, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    stages = outcome["stages"]
    users = [s["users"] for s in stages]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    top.plot(users, [s["jobs_per_s"] for s in stages], "o-", label="jobs/s (Locust, checked)")
    top.plot(
        users, [s["database"].get("container_runs_per_s", 0) for s in stages], "s--", label="container runs/s"
    )
    top.set_ylabel("per second")
    cpu = top.twinx()
    cpu.plot(
        users,
        [100 * s.get("host", {}).get("busy", 0) for s in stages],
        "^:",
        color="grey",
        label="host CPU %",
    )
    cpu.set_ylim(0, 105)
    cpu.set_ylabel("host CPU busy %")
    handles = top.get_legend_handles_labels()[0] + cpu.get_legend_handles_labels()[0]
    top.legend(handles=handles, loc="upper left", fontsize="small")
    top.set_title(f"jaula under Locust ({outcome['machine']['cores']} cores, {outcome['started']})")
    scenarios = (
        ("python hello [wait]", "o", "C0"),
        ("python sum of stdin [poll]", "s", "C1"),
        ("cpp hello [wait]", "d", "C2"),
    )
    for name, marker, colour in scenarios:
        for q, line in (("p50_ms", "-"), ("p95_ms", "--")):
            values = [s["jobs"].get(name, {}).get(q) for s in stages]
            points = [(u, v) for u, v in zip(users, values, strict=True) if v is not None]
            if points:
                xs, ys = zip(*points, strict=True)
                bottom.plot(xs, ys, marker=marker, linestyle=line, color=colour, label=f"{name} {q[:3]}")
    bottom.set_yscale("log")
    bottom.set_ylabel("latency, ms (log)")
    bottom.set_xlabel("users")
    bottom.set_xscale("log")
    bottom.set_xticks(users, [str(u) for u in users])
    bottom.xaxis.set_minor_locator(ticker.NullLocator())
    bottom.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    bottom.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    bottom.yaxis.set_minor_formatter(ticker.NullFormatter())
    bottom.legend(fontsize="x-small", ncol=2)
    knee = outcome.get("knee", {}).get("users")
    if knee is not None:
        for axis in (top, bottom):
            axis.axvline(knee, color="red", alpha=0.4)
        top.annotate(f"knee: {knee} users", (knee, 0), xytext=(4, 4), textcoords="offset points", color="red")
    for axis in (top, bottom):
        axis.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_series(outcome: JsonObject, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = outcome["samples"]
    t0 = samples[0]["t"]
    minutes = [(s["t"] - t0) / 60 for s in samples]
    fig, (mem, load) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for part, points in memory_series(samples).items():
        mem.plot([t / 60 for t, _ in points], [mib for _, mib in points], label=MEMORY_PARTS.get(part, part))
    mem.set_ylabel("RSS, MiB")
    mem.set_ylim(bottom=0)
    mem.legend(fontsize="small")
    mem.set_title(f"jaula {outcome['mode']} ({outcome['started']})")
    busy = [0.0]
    for before, after in zip(samples, samples[1:], strict=False):
        b, a = before["cpu"], after["cpu"]
        total = (a["busy_s"] + a["idle_s"] + a["steal_s"]) - (b["busy_s"] + b["idle_s"] + b["steal_s"])
        busy.append(100 * (a["busy_s"] - b["busy_s"]) / total if total > 0 else 0.0)
    load.plot(minutes, busy, color="grey", linewidth=0.8, label="host CPU busy %")
    load.set_ylim(0, 105)
    load.set_ylabel("host CPU busy %")
    queue = load.twinx()
    queue.plot(minutes, [s["queue"]["queued"] for s in samples], color="tab:red", label="jobs queued")
    queue.set_ylabel("jobs queued")
    queue.set_ylim(bottom=0)
    handles = load.get_legend_handles_labels()[0] + queue.get_legend_handles_labels()[0]
    load.legend(handles=handles, fontsize="small", loc="upper left")
    load.set_xlabel("minutes")
    for axis in (mem, load):
        axis.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
