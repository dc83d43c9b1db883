"""The API over HTTP against a real database (SQLite and PostgreSQL) and a real Redis.

No worker runs here: runs stay queued unless a test finishes them itself through core.jobs, as a
worker would (claim, finish, announce). Runs with a sandbox are in test_end_to_end.py.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Literal

import httpx
import pytest
import redis

from core import jobs
from core.db import session_factory
from core.queue import FINISHED_CHANNEL, QUEUE, announcement
from tests.integration.service.conftest import ApiFactory, ApiServer

pytestmark = pytest.mark.redis

HELLO = {"language": "python", "source": "print('hello')"}


def post_run(api: ApiServer, body: Mapping[str, object], **params: str) -> httpx.Response:
    with api.client() as client:
        return client.post("/v1/runs", json=body, params=params)


def finish_as_a_worker_would(
    api: ApiServer,
    run_id: str,
    *,
    stdout: bytes,
    announce: Literal["what was stored", "the id", "nothing"] = "what was stored",
) -> None:
    sessions = session_factory(api.settings.database)
    with sessions() as session:
        claimed = jobs.claim_run(
            session=session, run_id=uuid.UUID(run_id), worker="t:1", lease_s=lambda _: 60
        )
        assert claimed is not None and claimed.attempt == 1
        outcome = jobs.RunOutcome(
            verdict="ok", exit_code=0, signal=None, cpu_time_ms=5, wall_time_ms=6,
            memory_peak_bytes=1 << 20, stdout=stdout, stderr=b"", stdout_truncated=False,
            stderr_truncated=False, compile_output=None, message=None,
        )  # fmt: skip
        finished = jobs.finish_run(session=session, run_id=uuid.UUID(run_id), attempt=1, outcome=outcome)
        assert finished is not None
    if announce != "nothing":
        message = announcement(finished if announce == "what was stored" else finished.id)
        redis.Redis.from_url(api.settings.broker).publish(FINISHED_CHANNEL, message)


def queued_messages(api: ApiServer) -> int:
    return int(redis.Redis.from_url(api.settings.broker).llen(QUEUE))


# --- Submitting and reading ------------------------------------------------------------------


def test_a_run_is_stored_queued_and_sent(api: ApiServer) -> None:
    before = queued_messages(api)
    response = post_run(api, HELLO | {"stdin": "in", "limits": {"cpu_time_limit_s": 1}})
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "queued"
    assert queued_messages(api) == before + 1

    with api.client() as client:
        run = client.get(f"/v1/runs/{accepted['id']}").json()
    assert (run["id"], run["status"], run["language"], run["verdict"]) == (
        accepted["id"], "queued", "python", None,
    )  # fmt: skip
    assert run["limits"]["cpu_time_limit_s"] == 1
    assert run["limits"]["network"] is False


def test_an_unknown_run_is_404(api: ApiServer) -> None:
    with api.client() as client:
        response = client.get(f"/v1/runs/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("No run with id")


def test_a_finished_run_shows_its_result(api: ApiServer) -> None:
    run_id = post_run(api, HELLO).json()["id"]
    finish_as_a_worker_would(api, run_id, stdout=b"hello\n")
    with api.client() as client:
        run = client.get(f"/v1/runs/{run_id}").json()
    assert (run["status"], run["verdict"], run["stdout"], run["stdout_encoding"]) == (
        "done", "ok", "hello\n", "utf-8",
    )  # fmt: skip
    assert run["finished_at"] is not None and run["cpu_time_ms"] == 5


def test_output_that_is_not_utf8_comes_back_base64_without_loss(api: ApiServer) -> None:
    raw = b"\xff\xfe\x00\x80binary"
    run_id = post_run(api, HELLO).json()["id"]
    finish_as_a_worker_would(api, run_id, stdout=raw)
    with api.client() as client:
        run = client.get(f"/v1/runs/{run_id}").json()
        assert run["stdout_encoding"] == "base64"
        assert base64.b64decode(run["stdout"]) == raw
        # Asking for base64 explicitly encodes every output.
        run = client.get(f"/v1/runs/{run_id}", params={"encoding": "base64"}).json()
    assert run["stderr"] == "" and run["stderr_encoding"] == "base64"


def test_base64_requests_are_answered_in_base64(api: ApiServer) -> None:
    body = {
        "language": "python",
        "source": base64.b64encode(b"print(1)").decode(),
        "stdin": base64.b64encode(b"\x00\x01").decode(),
        "encoding": "base64",
    }
    run_id = post_run(api, body).json()["id"]
    finish_as_a_worker_would(api, run_id, stdout=b"1\n")
    with api.client() as client:
        run = client.get(f"/v1/runs/{run_id}").json()
    assert (run["stdout"], run["stdout_encoding"]) == ("MQo=", "base64")


def test_a_queued_run_can_be_cancelled_once(api: ApiServer) -> None:
    run_id = post_run(api, HELLO).json()["id"]
    with api.client() as client:
        cancelled = client.post(f"/v1/runs/{run_id}/cancel")
        again = client.post(f"/v1/runs/{run_id}/cancel")
        unknown = client.post(f"/v1/runs/{uuid.uuid4()}/cancel")
    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["message"]) == (
        "cancelled",
        "Cancelled before it ran.",
    )
    assert again.status_code == 409 and "is cancelled, not queued" in again.json()["detail"]
    assert unknown.status_code == 404


def test_cancelling_wakes_a_waiting_request(api_factory: ApiFactory) -> None:
    api = api_factory(wait_max_s=30)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        before = _queued_ids(api)
        pending = pool.submit(post_run, api, HELLO, wait="true")
        run_id = _wait_for_new_run(api, before)
        with api.client() as client:
            assert client.post(f"/v1/runs/{run_id}/cancel").status_code == 200
        response = pending.result(timeout=30)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


# --- wait=true ---------------------------------------------------------------------------------


@pytest.mark.parametrize("announce", ["what was stored", "the id"])
def test_wait_answers_200_with_the_result_once_the_run_is_announced(
    api: ApiServer, announce: Literal["what was stored", "the id"]
) -> None:
    body = HELLO | {"stdin": "in", "args": ["-x"], "limits": {"memory_limit_mb": 64}}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        before = _queued_ids(api)
        pending = pool.submit(post_run, api, body, wait="true")
        run_id = _wait_for_new_run(api, before)
        finish_as_a_worker_would(api, run_id, stdout=b"hello\n", announce=announce)
        response = pending.result(timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["stdout"] == "hello\n" and response.json()["id"] == run_id
    # Answered from the announcement or from the row, it is the run exactly as a GET reads it.
    with api.client() as client:
        assert response.json() == client.get(f"/v1/runs/{run_id}").json()


def test_wait_still_answers_when_the_announcement_is_lost(api_factory: ApiFactory) -> None:
    api = api_factory(wait_max_s=20)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        before = _queued_ids(api)
        pending = pool.submit(post_run, api, HELLO, wait="true")
        run_id = _wait_for_new_run(api, before)
        finish_as_a_worker_would(api, run_id, stdout=b"polled\n", announce="nothing")
        response = pending.result(timeout=30)
    assert response.status_code == 200
    assert response.json()["stdout"] == "polled\n"


def test_wait_gives_up_after_the_maximum_with_202(api_factory: ApiFactory) -> None:
    api = api_factory(wait_max_s=0.3)
    response = post_run(api, HELLO, wait="true")
    assert response.status_code == 202
    assert response.json()["status"] == "queued"


def _queued_ids(api: ApiServer) -> set[str]:
    return set(_runs_in_queue(api))


def _runs_in_queue(api: ApiServer) -> list[str]:
    messages = redis.Redis.from_url(api.settings.broker).lrange(QUEUE, 0, -1)
    return [json.loads(base64.b64decode(json.loads(m)["body"]))[0][0] for m in messages]


def _wait_for_new_run(api: ApiServer, before: set[str]) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        new = [run_id for run_id in _runs_in_queue(api) if run_id not in before]
        if new:
            return new[0]
        time.sleep(0.02)
    raise AssertionError("the run never reached the queue")


# --- Batches -----------------------------------------------------------------------------------


def test_a_batch_is_queued_in_order_and_read_back_in_order(api: ApiServer) -> None:
    bodies = [HELLO | {"stdin": str(i)} for i in range(3)]
    with api.client() as client:
        response = client.post("/v1/runs/batch", json={"submissions": bodies})
        assert response.status_code == 202, response.text
        ids = [run["id"] for run in response.json()["runs"]]
        assert len(set(ids)) == 3
        read = client.get("/v1/runs/batch", params={"ids": ",".join(reversed(ids))})
    assert read.status_code == 200
    assert [run["id"] for run in read.json()["runs"]] == list(reversed(ids))


def test_a_batch_with_one_bad_submission_is_refused_whole(api: ApiServer) -> None:
    before = queued_messages(api)
    bodies = [HELLO, HELLO | {"language": "cobol"}]
    with api.client() as client:
        response = client.post("/v1/runs/batch", json={"submissions": bodies})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("submissions[1].language: unknown language")
    assert queued_messages(api) == before


def test_batch_size_caps(api_factory: ApiFactory) -> None:
    api = api_factory(batch_max_size=2)
    with api.client() as client:
        response = client.post("/v1/runs/batch", json={"submissions": [HELLO] * 3})
        assert response.status_code == 422
        assert "over this server's maximum of 2 per batch" in response.json()["detail"]
        ids = ",".join(str(uuid.uuid4()) for _ in range(3))
        response = client.get("/v1/runs/batch", params={"ids": ids})
        assert response.status_code == 422 and "3 ids" in response.json()["detail"]


def test_batch_read_names_unknown_and_malformed_ids(api: ApiServer) -> None:
    known = post_run(api, HELLO).json()["id"]
    unknown = str(uuid.uuid4())
    with api.client() as client:
        response = client.get("/v1/runs/batch", params={"ids": f"{known},{unknown}"})
        assert response.status_code == 404 and unknown in response.json()["detail"]
        response = client.get("/v1/runs/batch", params={"ids": "nope"})
        assert response.status_code == 422
        assert response.json()["detail"] == "ids: 'nope' is not a run id (a UUID)"


# --- Every validation error, over HTTP --------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"language": "cobol", "source": ""}, 422, "language: unknown language 'cobol'; known: "),
        ({"language": "python"}, 422, "Invalid request: request body: give exactly one of"),
        (
            HELLO | {"limits": {"cpu_time_limit_s": 999}},
            422,
            "limits.cpu_time_limit_s: 999 is over",
        ),
        (HELLO | {"limits": {"memory_limit_mb": 99999}}, 422, "limits.memory_limit_mb: 99999 is"),
        (HELLO | {"limits": {"network": True}}, 422, "limits.network: this server does not allow"),
        (HELLO | {"limits": {"pids_limit": 0}}, 422, "Invalid request: limits.pids_limit: Input"),
        (HELLO | {"colour": 1}, 422, "Invalid request: colour: unknown field; remove it"),
        (HELLO | {"compiler_options": ["-O2"]}, 422, "compiler_options: python takes no compiler"),
        (HELLO | {"args": ["a\x00b"]}, 422, "args[0]: contains a NUL character"),
        (HELLO | {"encoding": "base64", "source": "%%"}, 422, "source: is not valid base64"),
        (HELLO | {"source": "x" * 300_000}, 413, "source is 300000 bytes, over this server's"),
        (HELLO | {"stdin": "x" * 5_000_000}, 413, "stdin is 5000000 bytes, over this server's"),
        (
            {"language": "python", "files": [{"name": "../x.py", "content": ""}]},
            422,
            "files[0].name: '../x.py' points outside the working directory",
        ),
        (
            {"language": "python", "files": [{"name": "a.py", "content": ""}], "main_file": "b.py"},
            422,
            "main_file: 'b.py' is not one of the files (a.py)",
        ),
    ],
)
def test_validation_errors_say_what_to_change(
    api: ApiServer, body: dict[str, object], status: int, detail: str
) -> None:
    response = post_run(api, body)
    assert response.status_code == status, response.text
    assert response.json()["detail"].startswith(detail), response.json()["detail"]


def test_a_body_that_is_not_json_is_422(api: ApiServer) -> None:
    with api.client() as client:
        response = client.post("/v1/runs", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("Invalid request: request body is not valid JSON")


def test_a_body_over_the_outer_limit_is_413_before_it_is_parsed(api_factory: ApiFactory) -> None:
    api = api_factory(batch_max_size=1, max_source_bytes=1000, max_stdin_bytes=1000, max_args=1)
    with api.client() as client:
        response = client.post(
            "/v1/runs", content=b"x" * 200_000, headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert "request body is over this server's maximum" in response.json()["detail"]


def test_a_single_run_body_is_capped_at_what_one_run_needs(api_factory: ApiFactory) -> None:
    # A batch may carry batch_max_size runs; POST /v1/runs only one.
    api = api_factory(batch_max_size=20, max_source_bytes=1000, max_stdin_bytes=1000, max_args=1)
    body = json.dumps(HELLO | {"stdin": "x" * 200_000}).encode()
    with api.client() as client:
        single = client.post("/v1/runs", content=body, headers={"content-type": "application/json"})
        batch = client.post(
            "/v1/runs/batch",
            content=json.dumps({"submissions": [HELLO | {"stdin": "x" * 200_000}]}).encode(),
            headers={"content-type": "application/json"},
        )
    assert single.status_code == 413, single.text
    assert batch.status_code == 413 and batch.json()["detail"].startswith("submissions[0].stdin is 200000")


def test_a_batch_list_longer_than_any_server_allows_is_refused_before_its_items(api: ApiServer) -> None:
    with api.client() as client:
        response = client.post("/v1/runs/batch", json={"submissions": [{"language": "python"}] * 10_001})
    assert response.status_code == 422
    assert "submissions: List should have at most 10000 items" in response.json()["detail"]


def test_a_body_that_arrives_too_slowly_is_408(api_factory: ApiFactory) -> None:
    api = api_factory(body_timeout_s=0.5)
    with socket.create_connection(("127.0.0.1", api.port), timeout=30) as conn:
        head = "POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
        conn.sendall(head.encode() + b"{")  # and nothing more
        answer = conn.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 408"), answer
    assert "did not arrive within 0.5 s" in answer


def test_a_request_refused_for_a_full_queue_costs_no_rate_limit(
    api_factory: ApiFactory, api: ApiServer
) -> None:
    with session_factory(api.settings.database)() as session:
        queued = jobs.count_queued(session=session)
    token = f"t-{uuid.uuid4()}"
    full = api_factory(
        max_queued_jobs=queued + 1, api_tokens=[token], rate_limit_per_minute=6, rate_limit_burst=2
    )
    with full.client(headers={"X-Auth-Token": token}) as client:
        statuses = [client.post("/v1/runs", json=HELLO).status_code for _ in range(5)]
        too_big = client.post("/v1/runs/batch", json={"submissions": [HELLO] * (queued + 2)})
    assert statuses == [202] + [503] * 4  # never 429: only the first was admitted and charged
    assert too_big.status_code == 422 and "more than this server ever queues" in too_big.json()["detail"]


def test_a_run_read_back_never_fails_on_what_was_accepted(api: ApiServer) -> None:
    # A lone surrogate is refused at the door; stored, it made every later read a 500.
    body = b'{"language": "python", "source": "print(1)", "args": ["\\ud800"]}'
    with api.client() as client:
        response = client.post("/v1/runs", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("args[0]: is not valid Unicode text")


def test_multi_file_runs_keep_their_files(api: ApiServer) -> None:
    body = {
        "language": "python",
        "files": [
            {"name": "main.py", "content": "import util; util.hi()"},
            {"name": "util.py", "content": "def hi(): print('hi')"},
        ],
    }
    run_id = post_run(api, body).json()["id"]
    sessions = session_factory(api.settings.database)
    with sessions() as session:
        run = jobs.get_run(session=session, run_id=uuid.UUID(run_id))
    assert run is not None and run.main_file == "main.py"
    assert {name: base64.b64decode(data) for name, data in run.files.items()} == {
        "main.py": b"import util; util.hi()",
        "util.py": b"def hi(): print('hi')",
    }


# --- Backpressure and access ------------------------------------------------------------------


def test_a_full_queue_answers_503_with_retry_after(api_factory: ApiFactory, api: ApiServer) -> None:
    with session_factory(api.settings.database)() as session:
        queued = jobs.count_queued(session=session)
    full = api_factory(max_queued_jobs=queued + 1, queue_full_retry_after_s=7)
    assert post_run(full, HELLO).status_code == 202
    response = post_run(full, HELLO)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.json()["detail"].startswith("The queue is full")


def test_tokens_are_required_once_configured(api_factory: ApiFactory) -> None:
    api = api_factory(api_tokens=["s3cret", "other"])
    with api.client() as client:
        missing = client.post("/v1/runs", json=HELLO)
        wrong = client.post("/v1/runs", json=HELLO, headers={"X-Auth-Token": "guess"})
        right = client.post("/v1/runs", json=HELLO, headers={"X-Auth-Token": "other"})
        health = client.get("/healthz")
    assert missing.status_code == 401 and "X-Auth-Token" in missing.json()["detail"]
    assert wrong.status_code == 401 and "not valid" in wrong.json()["detail"]
    assert right.status_code == 202
    assert health.status_code in (200, 503)  # health is open to probes


def test_each_token_has_its_own_rate_limit(api_factory: ApiFactory) -> None:
    # Fresh tokens: the limiter's state lives in Redis, shared by every test of the session.
    first, second = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"
    api = api_factory(api_tokens=[first, second], rate_limit_per_minute=6, rate_limit_burst=2)
    with api.client() as client:
        statuses = [
            client.post("/v1/runs", json=HELLO, headers={"X-Auth-Token": first}).status_code for _ in range(2)
        ]
        refused = client.post("/v1/runs", json=HELLO, headers={"X-Auth-Token": first})
        other = client.post("/v1/runs", json=HELLO, headers={"X-Auth-Token": second})
        read = client.get(f"/v1/runs/{uuid.uuid4()}", headers={"X-Auth-Token": first})
    assert statuses == [202, 202]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 10
    assert "Rate limit reached" in refused.json()["detail"]
    assert other.status_code == 202
    assert read.status_code == 404  # reading is not rate-limited


# --- Languages and health ---------------------------------------------------------------------


def test_languages_list_names_commands_and_default_limits(api: ApiServer) -> None:
    with api.client() as client:
        languages = {lang["name"]: lang for lang in client.get("/v1/languages").json()["languages"]}
    python = languages["python"]
    assert python["source_file"] == "main.py"
    assert python["compile_command"] is None and python["run_command"]
    assert python["default_limits"]["cpu_time_limit_s"] > 0
    assert languages["cpp"]["compile_command"] is not None


def test_health_reports_each_part(api: ApiServer) -> None:
    with api.client() as client:
        response = client.get("/healthz")
    health = response.json()
    assert health["database"]["ok"] and health["broker"]["ok"]
    # No worker runs in these tests: not ready, and it says why.
    assert response.status_code == 503 and health["ready"] is False
    assert health["workers"] == {
        "ok": False,
        "detail": "no worker is alive; start one (jaula up, or celery)",
    }


def test_an_unreachable_database_is_a_503_that_says_so(api_factory: ApiFactory) -> None:
    api = api_factory(database_url="sqlite:////nonexistent-dir/jaula.db")
    with api.client() as client:
        read = client.get(f"/v1/runs/{uuid.uuid4()}")
        submitted = client.post("/v1/runs", json=HELLO)
    for response in (read, submitted):
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json()["detail"].startswith("The database is unreachable right now")


def test_health_reports_a_dead_broker(api_factory: ApiFactory) -> None:
    from tests.integration.service.conftest import free_port

    api = api_factory(broker_url=f"redis://127.0.0.1:{free_port()}/0")
    with api.client() as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False
