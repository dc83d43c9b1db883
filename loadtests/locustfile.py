"""Locust scenarios for jaula: playground users, bad actors and a grader, every answer checked.

    loadtests/run.sh [--smoke | --steps 1,2,5,10,20,50 | --users N --duration S]   (the runner)
    .venv/bin/locust -f loadtests/locustfile.py --host http://127.0.0.1:8000      (by hand)

Users (Locust spawns them in proportion to `weight`; with few users the heaviest come first)

    user            weight  think time  what it does
    PlaygroundUser       8  1-4 s       opens the playground, then runs small programs
    BadActor             1  2-6 s       hostile programs and malformed requests
    Grader               1  20-40 s     grades 6 submissions of a sample problem, polls, exports

PlaygroundUser's tasks (weight): the programs people try in a playground, each with its own
random input or greeting, so that a result that belongs to another request cannot pass.

    python hello, wait=true                  4    javascript hello, submit then poll   2
    python sum of stdin, submit then poll    3    javascript words of stdin, wait=true 1
    cpp hello, wait=true (compiles)          1    cpp sort of stdin, submit then poll  1

BadActor's tasks (weight): infinite loops in Python and JavaScript (1 s of CPU asked for: the
API lets a client lower its limits, and a cheaper attack is not a weaker test) (2 + 1), a
sleeper that only the wall clock stops (1), a memory bomb under 64 MB (2), an output flood past
the 64 KB default (2), and a malformed request picked from ten kinds (4), which must get the
exact 4xx it deserves with a readable `detail`.

Grader: POST /v1/gradings on the sample problem `aplusb` (8 tests) with 6 submissions (Python
twice, C++ and JavaScript accepted, a Python wrong answer, a C compile error): 45 container runs
and 2 compiles; polls the grading every second until it is final, then reads report.json and
report.csv and checks that both agree with it.

`wait=true` is what the playground itself does; when the server's bounded wait runs out (202),
the user polls, as the playground does. Polled jobs (the API clients that submit, then poll, as
Judge0's users do) are polled every POLL_S = 250 ms, so their time is rounded up to the next
poll: compare their latency with the [wait] scenarios knowing that.

What counts as a failure (a Locust failure, not only an HTTP error)
  - an HTTP request: an unexpected status (any 5xx; a 4xx where none was due; a 2xx where a 4xx
    was due), a body that is not the documented JSON, a run id that is not the one submitted;
  - a job: a wrong stdout, verdict, exit code or score; a limit figure that does not show the
    limit (memory peak, truncated output); not finished within JOB_DEADLINE_S.

What is recorded: each HTTP request under its endpoint (type GET/POST, e.g. `GET /v1/runs/{id}`);
and each job end to end, from its POST to its checked result, under type JOB and the scenario's
name (`python hello [wait]`). With JAULA_LOADTEST_EVENTS=FILE every one of these is also
appended to FILE as a JSON line, which loadtests/run.py reads for exact percentiles and
throughput in a steady window. With JAULA_LOADTEST_COVER=1 (the smoke test) there is one
BadActor and one Grader whatever the user count, and every user first runs each of its tasks
once (a BadActor sends every kind of malformed request), so a short run covers every scenario.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import string
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from locust import FastHttpUser, between, events, task
from locust.contrib.fasthttp import ResponseContextManager
from locust.env import Environment
from locust.event import EventHook

JOB_DEADLINE_S = 180.0
"""Longest a job may take from POST to result before it counts as a failure (a saturated queue
at 50 users stays well under it; a lost job does not)."""
GRADING_DEADLINE_S = 300.0
FINAL = {"done", "failed", "cancelled"}
RUN_FIELDS = {
    "id", "status", "language", "limits", "verdict", "exit_code", "signal", "cpu_time_ms",
    "wall_time_ms", "memory_peak_bytes", "stdout", "stdout_truncated", "stderr", "stderr_truncated",
    "compile_output", "message", "queued_at", "started_at", "finished_at",
}  # fmt: skip
MIB = 1024 * 1024

JsonObject = dict[str, Any]


class Failed(Exception):
    """A wrong answer from the service; the message says what was expected and what came."""


def _nonce(length: int = 8) -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=length))


# -- checks of a finished run ---------------------------------------------------------------------


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


def _done_with(run: JsonObject, verdict: str) -> None:
    _require(run["status"] == "done", f"status {run['status']!r} ({run.get('message')}), expected done")
    _require(
        run["verdict"] == verdict, f"verdict {run['verdict']!r} ({run.get('message')}), expected {verdict}"
    )


def expect_stdout(expected: str) -> Callable[[JsonObject], None]:
    def check(run: JsonObject) -> None:
        _done_with(run, "ok")
        _require(run["exit_code"] == 0, f"exit code {run['exit_code']}, expected 0")
        _require(run["stdout"] == expected, f"stdout {run['stdout'][:80]!r}, expected {expected[:80]!r}")
        _require(run["stdout_truncated"] is False, "stdout_truncated is not false")
        for name in ("cpu_time_ms", "wall_time_ms", "memory_peak_bytes"):
            _require(isinstance(run[name], int) and run[name] >= 0, f"{name} is {run[name]!r}")

    return check


def expect_time_limit(run: JsonObject) -> None:
    # CPU or wall clock: on a saturated host a CPU-bound loop may meet the wall limit first.
    _done_with(run, "time_limit")
    _require(bool(run["message"]), "no message says which limit")


def expect_memory_limit(limit_mb: int) -> Callable[[JsonObject], None]:
    def check(run: JsonObject) -> None:
        _done_with(run, "memory_limit")
        peak = run["memory_peak_bytes"]
        _require(
            isinstance(peak, int) and peak >= 0.75 * limit_mb * MIB,
            f"memory_peak_bytes {peak} is not near the {limit_mb} MB limit",
        )

    return check


def expect_output_limit(limit_kb: int) -> Callable[[JsonObject], None]:
    def check(run: JsonObject) -> None:
        _done_with(run, "output_limit")
        _require(run["stdout_truncated"] is True, "stdout_truncated is not true")
        size = len(run["stdout"].encode())
        _require(0 < size <= limit_kb * 1024, f"{size} bytes of stdout kept, limit {limit_kb} KB")

    return check


@dataclass(frozen=True)
class Job:
    scenario: str
    body: JsonObject
    check: Callable[[JsonObject], None]


# -- the programs ---------------------------------------------------------------------------------


def python_hello() -> Job:
    name = _nonce()
    source = f'print("Hello, {name}!")\n'
    return Job("python hello", {"language": "python", "source": source}, expect_stdout(f"Hello, {name}!\n"))


def python_sum() -> Job:
    numbers = [random.randint(-(10**12), 10**12) for _ in range(random.randint(1, 200))]
    source = "import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n"
    stdin = "\n".join(map(str, numbers)) + "\n"
    body = {"language": "python", "source": source, "stdin": stdin}
    return Job("python sum of stdin", body, expect_stdout(f"{sum(numbers)}\n"))


def javascript_hello() -> Job:
    name = _nonce()
    source = f'console.log("Hello, {name}!");\n'
    body = {"language": "javascript", "source": source}
    return Job("javascript hello", body, expect_stdout(f"Hello, {name}!\n"))


def javascript_words() -> Job:
    words = [_nonce(random.randint(1, 10)) for _ in range(random.randint(1, 50))]
    source = (
        'const words = require("fs").readFileSync(0, "utf8").split(/\\s+/).filter(Boolean);\n'
        'console.log(words.reverse().join(" "));\n'
    )
    body = {"language": "javascript", "source": source, "stdin": " ".join(words)}
    return Job("javascript words of stdin", body, expect_stdout(" ".join(reversed(words)) + "\n"))


def cpp_hello() -> Job:
    name = _nonce()
    source = f'#include <iostream>\nint main() {{ std::cout << "Hello, {name}!" << std::endl; }}\n'
    body = {"language": "cpp", "source": source}
    return Job("cpp hello", body, expect_stdout(f"Hello, {name}!\n"))


CPP_SORT = """\
#include <algorithm>
#include <iostream>
#include <vector>
int main() {
    std::vector<long long> v;
    for (long long x; std::cin >> x;) v.push_back(x);
    std::sort(v.begin(), v.end());
    for (std::size_t i = 0; i < v.size(); ++i) std::cout << v[i] << (i + 1 < v.size() ? ' ' : '\\n');
}
"""


def cpp_sort() -> Job:
    numbers = [random.randint(-(10**9), 10**9) for _ in range(random.randint(1, 300))]
    body = {"language": "cpp", "source": CPP_SORT, "stdin": " ".join(map(str, numbers))}
    return Job("cpp sort of stdin", body, expect_stdout(" ".join(map(str, sorted(numbers))) + "\n"))


def python_infinite_loop() -> Job:
    limits = {"cpu_time_limit_s": 1.0, "wall_time_limit_s": 5.0}
    body = {"language": "python", "source": "while True:\n    pass\n", "limits": limits}
    return Job("python infinite loop", body, expect_time_limit)


def javascript_infinite_loop() -> Job:
    limits = {"cpu_time_limit_s": 1.0, "wall_time_limit_s": 5.0}
    body = {"language": "javascript", "source": "for (;;) {}\n", "limits": limits}
    return Job("javascript infinite loop", body, expect_time_limit)


def python_sleeper() -> Job:
    limits = {"wall_time_limit_s": 1.0}
    body = {"language": "python", "source": "import time\ntime.sleep(3600)\n", "limits": limits}
    return Job("python sleeper", body, expect_time_limit)


def python_memory_bomb() -> Job:
    source = "chunks = []\nwhile True:\n    chunks.append(bytearray(8 * 1024 * 1024))\n"
    body = {"language": "python", "source": source, "limits": {"memory_limit_mb": 64}}
    return Job("python memory bomb", body, expect_memory_limit(64))


def python_output_flood() -> Job:
    source = "import sys\nline = 'y' * 1023 + '\\n'\nwhile True:\n    sys.stdout.write(line)\n"
    return Job("python output flood", {"language": "python", "source": source}, expect_output_limit(64))


# -- malformed requests: (name, method, path, JSON body or raw text, expected status, in detail) --


@dataclass(frozen=True)
class BadRequest:
    name: str
    method: str
    path: str
    status: int
    detail: str
    """A piece of text the error's `detail` must contain: the message says what to change."""
    body: JsonObject | None = None
    raw: str | None = None


def _bad_requests() -> list[BadRequest]:
    hello = {"language": "python", "source": "print(1)\n"}
    return [
        BadRequest("unknown language", "POST", "/v1/runs", 422, "unknown language",
                   body={"language": "cobol", "source": "DISPLAY 'HI'."}),
        BadRequest("no source", "POST", "/v1/runs", 422, "source", body={"language": "python"}),
        BadRequest("limit over the cap", "POST", "/v1/runs", 422, "maximum",
                   body={**hello, "limits": {"cpu_time_limit_s": 3600}}),
        BadRequest("misspelt limit", "POST", "/v1/runs", 422, "unknown field",
                   body={**hello, "limits": {"cpu_time_limit": 1}}),
        BadRequest("not JSON", "POST", "/v1/runs", 422, "JSON", raw='{"language": "python", source: 1'),
        BadRequest("source too big", "POST", "/v1/runs", 413, "maximum",
                   body={"language": "python", "source": "#" * (300 * 1024)}),
        BadRequest("unknown run", "GET", f"/v1/runs/{uuid.UUID(int=0)}", 404, "No run"),
        BadRequest("run id not a UUID", "GET", "/v1/runs/not-a-uuid", 422, "UUID"),
        BadRequest("batch over the cap", "POST", "/v1/runs/batch", 422, "maximum",
                   body={"submissions": [hello] * 21}),
        BadRequest("unknown problem", "POST", "/v1/gradings", 422, "no problem named",
                   body={"problem": {"name": "no-such-problem"}, "submissions": [hello]}),
    ]  # fmt: skip


BAD_REQUESTS = _bad_requests()
COVER = os.environ.get("JAULA_LOADTEST_COVER") == "1"


# -- the grader's batch -------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    label: str
    language: str
    source: str
    verdict: str
    full_score: bool


SUM_PY = "import sys\na, b = map(int, sys.stdin.read().split())\nprint(a + b)\n"
SUM_PY_TERSE = "print(sum(map(int, open(0).read().split())))\n"
SUM_CPP = (
    "#include <cstdio>\n"
    'int main() { long long a, b; scanf("%lld %lld", &a, &b); printf("%lld\\n", a + b); }\n'
)
SUM_JS = (
    "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(BigInt);\n"
    "console.log((a + b).toString());\n"
)
DIFFERENCE_PY = "import sys\na, b = map(int, sys.stdin.read().split())\nprint(a - b)\n"
UNDECLARED_C = "int main(void) { return undeclared; }\n"

APLUSB = [
    Submission("ada (python)", "python", SUM_PY, "accepted", full_score=True),
    Submission("ben (python)", "python", SUM_PY_TERSE, "accepted", full_score=True),
    Submission("cy (c++)", "cpp", SUM_CPP, "accepted", full_score=True),
    Submission("dee (javascript)", "javascript", SUM_JS, "accepted", full_score=True),
    Submission("eve (python)", "python", DIFFERENCE_PY, "wrong_answer", full_score=False),
    Submission("fay (c)", "c", UNDECLARED_C, "compile_error", full_score=False),
]


# -- the event log the runner reads ---------------------------------------------------------------


@dataclass
class EventLog:
    """Every request and job as a JSON line: {"t", "type", "name", "ms", "error"}; plus markers."""

    stream: IO[str]
    opened: float = field(default_factory=time.time)

    def request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        exception: BaseException | None = None,
        **_: object,
    ) -> None:
        error = None if exception is None else f"{type(exception).__name__}: {exception}"[:300]
        self.write({"type": request_type, "name": name, "ms": round(response_time, 2), "error": error})

    def mark(self, what: str, **data: object) -> None:
        self.write({"type": "MARK", "name": what, **data})

    def write(self, record: JsonObject) -> None:
        self.stream.write(json.dumps({"t": round(time.time(), 4), **record}) + "\n")


def _log_events(environment: Environment, **_: object) -> None:
    path = os.environ.get("JAULA_LOADTEST_EVENTS")
    if not path:
        return
    log = EventLog(open(path, "a", buffering=1 << 16))  # noqa: SIM115 (closed at quit)
    _listen(environment.events.request, log.request)

    def spawned(user_count: int, **_: object) -> None:
        classes = environment.runner.user_classes_count if environment.runner else {}
        log.mark("spawned", users=user_count, classes=classes)
        log.stream.flush()

    def stopping(**_: object) -> None:
        log.mark("stopping")

    def quitting(**_: object) -> None:
        log.mark("quit")
        log.stream.close()

    _listen(environment.events.spawning_complete, spawned)
    _listen(environment.events.test_stopping, stopping)
    _listen(environment.events.quitting, quitting)
    log.mark("start")


def _listen(hook: EventHook, listener: Callable[..., None]) -> None:
    hook.add_listener(listener)  # type: ignore[no-untyped-call]  # unannotated in locust


def fail(response: ResponseContextManager, reason: Exception | str) -> None:
    """Mark the request failed in Locust's figures (the request event carries the reason)."""
    response.failure(reason)  # type: ignore[no-untyped-call]  # unannotated in locust


_listen(events.init, _log_events)


# -- users ------------------------------------------------------------------------------------------


POLL_S = 0.25
"""How often a job is polled: a polled job's time is rounded up to the next poll."""


class JaulaUser(FastHttpUser):
    abstract = True
    network_timeout = 60.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        if COVER:
            for method in dict.fromkeys(self.tasks):  # each task once, in declaration order
                method(self)  # type: ignore[operator]

    # -- HTTP with checks -------------------------------------------------------------------------

    def _json(self, response: ResponseContextManager, statuses: set[int]) -> JsonObject:
        """The response's JSON object if its status is one of `statuses`; else a failure."""
        try:
            if response.status_code not in statuses:
                detail = (response.text or "")[:200]
                raise Failed(f"HTTP {response.status_code}, expected {sorted(statuses)}: {detail}")
            body = response.json()
            if not isinstance(body, dict):
                raise Failed(f"body is {type(body).__name__}, not an object")
        except Failed as exc:
            fail(response, exc)
            raise
        except Exception as exc:  # a body that is not JSON, a connection error
            failure = Failed(f"HTTP {response.status_code}: {type(exc).__name__}: {exc}"[:300])
            fail(response, failure)
            raise failure from exc
        return body

    def _fields(self, response: ResponseContextManager, body: JsonObject, required: set[str]) -> None:
        missing = required - body.keys()
        if missing:
            failure = Failed(f"body lacks {sorted(missing)}")
            fail(response, failure)
            raise failure

    def _job_event(self, scenario: str, started: float, error: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="JOB",
            name=scenario,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=error,
            context={},
        )

    def run_job(self, job: Job, *, wait: bool) -> None:
        """POST the job (wait=true or not), poll until it is final, check it; one JOB event."""
        scenario = f"{job.scenario} [{'wait' if wait else 'poll'}]"
        started = time.perf_counter()
        try:
            run = self._submit(job, wait)
            if run["status"] not in FINAL:
                run = self._poll_run(run["id"], started + JOB_DEADLINE_S)
            job.check(run)
        except Failed as exc:
            self._job_event(scenario, started, exc)
        else:
            self._job_event(scenario, started, None)

    def _submit(self, job: Job, wait: bool) -> JsonObject:
        path, statuses = ("/v1/runs?wait=true", {200, 202}) if wait else ("/v1/runs", {202})
        with self.client.post(path, json=job.body, name=f"POST {path}", catch_response=True) as response:
            run = self._json(response, statuses)
            self._fields(response, run, RUN_FIELDS if response.status_code == 200 else {"id", "status"})
            if response.status_code == 202 and run["status"] in FINAL:
                failure = Failed(f"202 with a final status {run['status']!r}")
                fail(response, failure)
                raise failure
        return run

    def _poll_run(self, run_id: str, deadline: float) -> JsonObject:
        while True:
            time.sleep(POLL_S)
            path = f"/v1/runs/{run_id}"
            with self.client.get(path, name="GET /v1/runs/{id}", catch_response=True) as response:
                run = self._json(response, {200})
                self._fields(response, run, RUN_FIELDS)
                if run["id"] != run_id:
                    failure = Failed(f"asked for run {run_id}, got {run['id']}")
                    fail(response, failure)
                    raise failure
            if run["status"] in FINAL:
                return run
            if time.perf_counter() > deadline:
                raise Failed(f"run {run_id} still {run['status']} after {JOB_DEADLINE_S:g} s")


class PlaygroundUser(JaulaUser):
    weight = 8
    wait_time = between(1, 4)

    def on_start(self) -> None:
        self.open_playground()
        super().on_start()

    def open_playground(self) -> None:
        """What the browser fetches first: the page and the language list."""
        with self.client.get("/", name="GET /", catch_response=True) as response:
            if response.status_code != 200 or "<html" not in (response.text or "").lower():
                fail(response, f"HTTP {response.status_code}: not the playground's page (is web/ built?)")
        with self.client.get("/v1/languages", name="GET /v1/languages", catch_response=True) as response:
            try:
                languages = {lang["name"]: lang for lang in self._json(response, {200})["languages"]}
            except Failed:
                return
            missing = [n for n in ("python", "cpp", "javascript") if not languages.get(n, {}).get("version")]
            if missing:
                fail(response, f"languages not built (no version): {missing}")

    @task(4)
    def python_hello_wait(self) -> None:
        self.run_job(python_hello(), wait=True)

    @task(3)
    def python_sum_poll(self) -> None:
        self.run_job(python_sum(), wait=False)

    @task(2)
    def javascript_hello_poll(self) -> None:
        self.run_job(javascript_hello(), wait=False)

    @task(1)
    def javascript_words_wait(self) -> None:
        self.run_job(javascript_words(), wait=True)

    @task(1)
    def cpp_hello_wait(self) -> None:
        self.run_job(cpp_hello(), wait=True)

    @task(1)
    def cpp_sort_poll(self) -> None:
        self.run_job(cpp_sort(), wait=False)


class BadActor(JaulaUser):
    weight = 1
    wait_time = between(2, 6)

    @task(2)
    def infinite_loop_python(self) -> None:
        self.run_job(python_infinite_loop(), wait=True)

    @task(1)
    def infinite_loop_javascript(self) -> None:
        self.run_job(javascript_infinite_loop(), wait=False)

    @task(1)
    def sleeper(self) -> None:
        self.run_job(python_sleeper(), wait=True)

    @task(2)
    def memory_bomb(self) -> None:
        self.run_job(python_memory_bomb(), wait=True)

    @task(2)
    def output_flood(self) -> None:
        self.run_job(python_output_flood(), wait=False)

    @task(4)
    def malformed(self) -> None:
        self.send_bad_request(random.choice(BAD_REQUESTS))

    def send_bad_request(self, bad: BadRequest) -> None:
        kwargs: dict[str, Any] = {"name": f"bad request: {bad.name}", "catch_response": True}
        if bad.raw is not None:
            kwargs.update(data=bad.raw, headers={"Content-Type": "application/json"})
        elif bad.body is not None:
            kwargs["json"] = bad.body
        with self.client.request(bad.method, bad.path, **kwargs) as response:
            try:
                error = self._json(response, {bad.status})
            except Failed:
                return
            detail = error.get("detail")
            if not isinstance(detail, str) or bad.detail.lower() not in detail.lower():
                fail(response, f"detail {detail!r} does not mention {bad.detail!r}")
            else:
                response.success()

    def on_start(self) -> None:
        super().on_start()
        if COVER:
            for bad in BAD_REQUESTS:
                self.send_bad_request(bad)


class Grader(JaulaUser):
    weight = 1
    wait_time = between(20, 40)

    @task
    def grade_aplusb(self) -> None:
        started = time.perf_counter()
        scenario = f"grading aplusb x{len(APLUSB)} [poll]"
        try:
            self._grade(started)
        except Failed as exc:
            self._job_event(scenario, started, exc)
        else:
            self._job_event(scenario, started, None)

    def _grade(self, started: float) -> None:
        body = {
            "problem": {"name": "aplusb"},
            "submissions": [{"label": s.label, "language": s.language, "source": s.source} for s in APLUSB],
        }
        with self.client.post("/v1/gradings", json=body, name="POST /v1/gradings", catch_response=True) as r:
            accepted = self._json(r, {202})
            self._fields(r, accepted, {"id", "status", "submissions"})
        grading_id = accepted["id"]
        grading = self._poll_grading(grading_id, started + GRADING_DEADLINE_S)
        self._check_grading(grading)
        self._check_reports(grading_id, grading)

    def _poll_grading(self, grading_id: str, deadline: float) -> JsonObject:
        while True:
            time.sleep(1.0)
            path = f"/v1/gradings/{grading_id}"
            with self.client.get(path, name="GET /v1/gradings/{id}", catch_response=True) as response:
                grading = self._json(response, {200})
                self._fields(response, grading, {"id", "status", "progress", "submissions", "problem"})
            if grading["status"] in FINAL:
                return grading
            if time.perf_counter() > deadline:
                raise Failed(f"grading {grading_id} still {grading['status']} after {GRADING_DEADLINE_S:g} s")

    @staticmethod
    def _check_grading(grading: JsonObject) -> None:
        _require(grading["status"] == "done", f"grading status {grading['status']!r}, expected done")
        progress = grading["progress"]
        tests = len(grading["problem"]["tests"])
        _require(
            progress["submissions_finished"] == len(APLUSB)
            and progress["tests_finished"] == tests * len(APLUSB),
            f"progress {progress} is not complete",
        )
        got = {s["label"]: s for s in grading["submissions"]}
        for sub in APLUSB:
            result = got.get(sub.label)
            _require(result is not None, f"no result for {sub.label}")
            assert result is not None
            what = f"{sub.label}: {result['status']}, {result['verdict']}, score {result['score']}"
            _require(
                result["status"] == "done" and result["verdict"] == sub.verdict,
                f"{what}; expected {sub.verdict}",
            )
            full = result["score"] == result["max_score"]
            _require(full == sub.full_score, f"{what} of {result['max_score']}")
            if sub.verdict == "compile_error":
                _require(
                    result["score"] == 0 and bool(result["compile_output"]), f"{what}: no compiler message"
                )

    def _check_reports(self, grading_id: str, grading: JsonObject) -> None:
        scores = {s["label"]: s["score"] for s in grading["submissions"]}
        path = f"/v1/gradings/{grading_id}/report.json"
        with self.client.get(path, name="GET /v1/gradings/{id}/report.json", catch_response=True) as response:
            report = self._json(response, {200})
            reported = {s["label"]: s["score"] for s in report.get("submissions", [])}
            if reported != scores:
                fail(response, f"report.json scores {reported} differ from the grading's {scores}")
        path = f"/v1/gradings/{grading_id}/report.csv"
        with self.client.get(path, name="GET /v1/gradings/{id}/report.csv", catch_response=True) as response:
            if response.status_code != 200:
                fail(response, f"HTTP {response.status_code}")
                return
            rows = list(csv.DictReader(io.StringIO(response.text or "")))
            labels = {row.get("label") for row in rows}
            if labels != set(scores):
                fail(response, f"report.csv labels {sorted(map(str, labels))} differ from {sorted(scores)}")


if COVER:
    BadActor.fixed_count = 1
    Grader.fixed_count = 1
