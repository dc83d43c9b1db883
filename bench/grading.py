"""Batch grading: compile once and run every test, against recompiling for every test.

    sudo .venv/bin/python -m bench.grading [--submissions 50] [--tests 20] [--baseline 6]
                                           [--full-baseline] [--threads N] [--json]

The workload is the one a teacher has: 50 different C++ solutions of one problem (sum n
integers, 20 tests from 1 to 100 000 numbers), in the styles students write them (iostream or
stdio, <bits/stdc++.h> or the exact headers, a vector or a running sum), each one a distinct
source. Everything runs through the real sandbox, `--threads` at a time (default: one per core),
as `jaula grade` runs locally.

  compile once    core.grading: each submission compiled once, its artefact (an overlay layer)
                  stacked under a fresh container for each of its 20 tests.
  per test        what Judge0's batch forces (its API has no "many inputs, one program"): every
                  test is a whole submission, compiled and run; here core.execution.execute() per
                  test, checked with the same checker, in the same thread pool.

Recompiling 1 000 times takes long, so by default the per-test mode runs on `--baseline`
submissions (spread evenly, so that every source style is in), and its wall time is extrapolated
linearly to all of them: the jobs are independent and alike, and the pool is kept just as busy
(submissions x tests jobs over the same threads), so the time per job carries over. The
compile-once mode is also timed on that same subset, for a ratio measured on equal work;
--full-baseline measures the per-test mode on everything instead.

Reported: wall time; where the slot time goes (compiling vs running tests, from the grader's own
clocks); the ratios. The machine is shared and noisy: the load average is printed with the
figures, and only ratios measured in the same run mean much.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import execution
from core.config import get_settings
from core.grading.checkers import ignore_trailing_whitespace
from core.grading.grader import Submission
from core.grading.local import grade_locally
from core.grading.problem import Problem, load_problem
from core.languages import catalogue
from sandbox import Verdict

SEED = 20261127

# Five ways students write "sum n integers"; {tag} makes each submission a distinct source.
STYLES = [
    """#include <bits/stdc++.h>
using namespace std;
// submission {tag}
int main() {{
    ios::sync_with_stdio(false);
    cin.tie(nullptr);
    int n; cin >> n;
    vector<long long> a(n);
    for (auto &x : a) cin >> x;
    cout << accumulate(a.begin(), a.end(), 0LL) << "\\n";
}}
""",
    """#include <cstdio>
// submission {tag}
int main() {{
    int n;
    if (std::scanf("%d", &n) != 1) return 1;
    long long sum = 0, x;
    for (int i = 0; i < n; i++) {{ std::scanf("%lld", &x); sum += x; }}
    std::printf("%lld\\n", sum);
}}
""",
    """#include <iostream>
#include <vector>
#include <numeric>
// submission {tag}
int main() {{
    std::size_t n; std::cin >> n;
    std::vector<long long> values(n);
    for (std::size_t i = 0; i < n; ++i) std::cin >> values[i];
    std::cout << std::accumulate(values.begin(), values.end(), 0LL) << std::endl;
    return 0;
}}
""",
    """#include <bits/stdc++.h>
// submission {tag}
typedef long long ll;
int main() {{
    int n; scanf("%d", &n);
    std::map<int, ll> seen;
    ll total = 0;
    for (int i = 0; i < n; i++) {{ ll x; scanf("%lld", &x); total += x; seen[i % 7] += x; }}
    ll check = 0;
    for (auto &[k, v] : seen) check += v;
    printf("%lld\\n", check == total ? total : -1);
}}
""",
    """#include <iostream>
#include <string>
// submission {tag}
static long long read() {{ long long x; std::cin >> x; return x; }}
int main() {{
    std::ios_base::sync_with_stdio(false);
    long long n = read(), s = 0;
    while (n--) s += read();
    std::cout << std::to_string(s) << '\\n';
}}
""",
]


def write_problem(directory: Path, tests: int) -> Problem:
    rng = random.Random(SEED)
    (directory / "tests").mkdir(parents=True)
    (directory / "problem.toml").write_text(
        'name = "sum"\ntitle = "Sum of n integers"\n[limits]\ncpu_time_s = 2.0\nmemory_mb = 256\n'
    )
    for index in range(tests):
        n = max(1, round(100_000 ** (index / max(1, tests - 1))))  # 1 ... 100 000, geometric
        numbers = [rng.randint(-(10**9), 10**9) for _ in range(n)]
        name = f"{index + 1:02d}"
        (directory / "tests" / f"{name}.in").write_text(f"{n}\n{' '.join(map(str, numbers))}\n")
        (directory / "tests" / f"{name}.out").write_text(f"{sum(numbers)}\n")
    return load_problem(directory)


def make_submissions(count: int) -> list[Submission]:
    cpp = catalogue().get("cpp")
    return [
        Submission(
            label=f"student-{i:02d}",
            language=cpp,
            files=execution.submission_files(cpp, STYLES[i % len(STYLES)].format(tag=i).encode()),
        )
        for i in range(count)
    ]


@dataclass(frozen=True, slots=True)
class CompileOnce:
    wall_s: float
    compile_s: float
    """Sum over submissions of the time their compile took (slot time)."""
    tests_s: float
    """Sum over submissions of the time their tests took, containers and checks included."""
    compiles: int
    accepted: int
    tests: int


def run_compile_once(problem: Problem, submissions: Sequence[Submission], threads: int) -> CompileOnce:
    compiles_before = execution.compiler_runs()
    started = time.monotonic()
    graded = grade_locally(problem, submissions, threads=threads)
    wall = time.monotonic() - started
    results = [item.result for item in graded]
    if any(result is None for result in results):
        errors = [item.error for item in graded if item.error]
        raise RuntimeError(f"grading failed: {errors[:3]}")
    done = [result for result in results if result is not None]
    return CompileOnce(
        wall_s=wall,
        compile_s=sum(r.compile_elapsed_ms for r in done) / 1000,
        tests_s=sum(r.tests_elapsed_ms for r in done) / 1000,
        compiles=execution.compiler_runs() - compiles_before,
        accepted=sum(t.verdict == "accepted" for r in done for t in r.tests),
        tests=sum(len(r.tests) for r in done),
    )


@dataclass(frozen=True, slots=True)
class PerTest:
    wall_s: float
    compiles: int
    accepted: int
    jobs: int


def run_per_test(problem: Problem, submissions: Sequence[Submission], threads: int) -> PerTest:
    """Every (submission, test) as a whole job: compile, run, check."""
    settings = get_settings()

    def job(submission: Submission, test_index: int) -> bool:
        test = problem.tests[test_index]
        limits = problem.limits.for_language(submission.language)
        done = execution.execute(
            submission.language, submission.files, stdin=test.input(), limits=limits, settings=settings
        )
        return (
            done.result.verdict is Verdict.OK
            and ignore_trailing_whitespace(test.expected(), done.result.stdout).accepted
        )

    compiles_before = execution.compiler_runs()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(job, s, i) for s in submissions for i in range(len(problem.tests))]
        accepted = sum(future.result() for future in futures)
    return PerTest(
        wall_s=time.monotonic() - started,
        compiles=execution.compiler_runs() - compiles_before,
        accepted=accepted,
        jobs=len(futures),
    )


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--submissions", type=int, default=50)
    parser.add_argument("--tests", type=int, default=20)
    parser.add_argument("--baseline", type=int, default=6, help="submissions timed in the per-test mode")
    parser.add_argument("--full-baseline", action="store_true", help="time the per-test mode on all")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)

    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="jaula-bench-grading-") as scratch:
        problem = write_problem(Path(scratch) / "sum", args.tests)
        submissions = make_submissions(args.submissions)
        step = max(1, args.submissions // max(1, args.baseline))
        subset = submissions if args.full_baseline else submissions[::step][: args.baseline]
        print(
            f"{len(submissions)} C++ submissions x {len(problem.tests)} tests, {args.threads} at a time; "
            f"per-test recompilation timed on {len(subset)} submissions; load average {load_before}"
        )
        # Warm the launchers and the page cache (headers, compiler) so neither mode pays it.
        run_compile_once(problem, submissions[:1], 1)

        once = run_compile_once(problem, submissions, args.threads)
        per_test = run_per_test(problem, subset, args.threads)
        once_subset = run_compile_once(problem, subset, args.threads)
    load_after = load_average()

    scale = len(submissions) / len(subset)
    per_test_full_s = per_test.wall_s * scale
    slot_s = once.compile_s + once.tests_s
    figures: dict[str, Any] = {
        "submissions": len(submissions),
        "tests": len(problem.tests),
        "threads": args.threads,
        "compile_once_wall_s": round(once.wall_s, 2),
        "compile_once_compiles": once.compiles,
        "compile_once_compile_s": round(once.compile_s, 2),
        "compile_once_tests_s": round(once.tests_s, 2),
        "compile_share": round(once.compile_s / slot_s, 3),
        "per_test_run_ms": round(once.tests_s / once.tests * 1000, 1),
        "compile_ms": round(once.compile_s / once.compiles * 1000),
        "accepted": f"{once.accepted}/{once.tests}",
        "baseline_submissions": len(subset),
        "per_test_wall_s": round(per_test.wall_s, 2),
        "per_test_compiles": per_test.compiles,
        "per_test_accepted": f"{per_test.accepted}/{per_test.jobs}",
        "compile_once_subset_wall_s": round(once_subset.wall_s, 2),
        "ratio_on_subset": round(per_test.wall_s / once_subset.wall_s, 1),
        "per_test_extrapolated_wall_s": round(per_test_full_s, 1),
        "ratio": round(per_test_full_s / once.wall_s, 1),
        "load_average_before": load_before,
        "load_average_after": load_after,
    }
    print(
        f"""
compile once (jaula)     wall {once.wall_s:8.1f} s   {once.compiles} compiles, {once.tests} test runs, \
{once.accepted} accepted
  slot time              compiling {once.compile_s:7.1f} s ({once.compile_s / slot_s:.0%})   \
running tests {once.tests_s:7.1f} s ({once.tests_s / slot_s:.0%})
  per unit               one compile {figures["compile_ms"]} ms   one test (fresh container + check) \
{figures["per_test_run_ms"]} ms
per-test recompilation   wall {per_test.wall_s:8.1f} s   on {len(subset)} submissions \
({per_test.compiles} compiles, {per_test.accepted}/{per_test.jobs} accepted)
  extrapolated to all    wall {per_test_full_s:8.1f} s   (x {scale:g}: independent, alike jobs, same pool)
compile once, same subset wall {once_subset.wall_s:7.1f} s
ratio (per test / once)  {figures["ratio"]:.1f}x on all {len(submissions)} (extrapolated), \
{figures["ratio_on_subset"]:.1f}x measured on {len(subset)}   (target: at least 5x)
load average             {load_before} before, {load_after} after"""
    )
    if args.json:
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
