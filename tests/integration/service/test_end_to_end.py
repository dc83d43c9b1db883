"""POST -> Redis -> a real Celery worker -> the real sandbox -> database -> GET, for each verdict."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.config import Settings
from tests.integration.service.conftest import RedisServer, Stack, require_sandbox, running_stack

pytestmark = [pytest.mark.root, pytest.mark.images, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(
    database_url: str, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    ambient = require_sandbox("python", "c")
    data_dir = tmp_path_factory.mktemp("e2e")
    settings = Settings(
        data_dir=data_dir,
        images_dir=ambient.images_path,
        database_url=database_url,
        broker_url=redis_server.url,
        worker_concurrency=2,
        wait_max_s=60,
    )
    with running_stack(settings, data_dir / "worker.log") as stack:
        yield stack


def run(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    with stack.api.client() as client:
        response = client.post("/v1/runs", params={"wait": "true"}, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert result["status"] == "done", result
    return result


def python(source: str, **fields: Any) -> dict[str, Any]:
    return {"language": "python", "source": source, **fields}


def test_ok(stack: Stack) -> None:
    result = run(stack, python("import sys; print('hello', sys.argv[1:])", args=["a", "b c"]))
    assert (result["verdict"], result["exit_code"]) == ("ok", 0)
    assert result["stdout"] == "hello ['a', 'b c']\n"
    assert result["cpu_time_ms"] >= 0 and result["memory_peak_bytes"] > 0
    assert result["started_at"] and result["finished_at"]


def test_stdin_reaches_the_program(stack: Stack) -> None:
    result = run(stack, python("print(input()[::-1])", stdin="abc\n"))
    assert result["stdout"] == "cba\n"


def test_runtime_error(stack: Stack) -> None:
    result = run(stack, python("import sys; sys.exit(3)"))
    assert (result["verdict"], result["exit_code"]) == ("runtime_error", 3)
    assert "code 3" in result["message"]


def test_compile_error(stack: Stack) -> None:
    result = run(stack, {"language": "c", "source": "int main( { return 0; }"})
    assert result["verdict"] == "compile_error"
    assert "error" in result["compile_output"]


def test_a_compiled_program_runs(stack: Stack) -> None:
    source = '#include <stdio.h>\nint main(void) { puts("compiled"); return 0; }\n'
    result = run(stack, {"language": "c", "source": source})
    assert (result["verdict"], result["stdout"]) == ("ok", "compiled\n")
    assert result["compile_output"] is not None


def test_time_limit(stack: Stack) -> None:
    result = run(stack, python("while True: pass", limits={"cpu_time_limit_s": 0.5}))
    assert result["verdict"] == "time_limit"
    assert "CPU time limit" in result["message"]


def test_memory_limit(stack: Stack) -> None:
    source = "chunks = []\nwhile True: chunks.append(bytearray(8 << 20))"
    result = run(stack, python(source, limits={"memory_limit_mb": 64}))
    assert result["verdict"] == "memory_limit"
    assert "64 MB" in result["message"]


def test_output_limit(stack: Stack) -> None:
    result = run(stack, python("while True: print('x' * 1000)", limits={"output_limit_kb": 4}))
    assert result["verdict"] == "output_limit"
    assert result["stdout_truncated"] is True
    assert len(result["stdout"]) <= 4 * 1024


def test_base64_round_trip_of_binary_stdin_and_stdout(stack: Stack) -> None:
    data = bytes(range(256)) * 4
    body = python(
        base64.b64encode(b"import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())").decode(),
        stdin=base64.b64encode(data).decode(),
        encoding="base64",
    )
    result = run(stack, body)
    assert result["stdout_encoding"] == "base64"
    assert base64.b64decode(result["stdout"]) == data


def test_binary_output_of_a_text_request_comes_back_base64(stack: Stack) -> None:
    result = run(stack, python("import sys; sys.stdout.buffer.write(b'\\xff\\x00ok')"))
    assert result["stdout_encoding"] == "base64"
    assert base64.b64decode(result["stdout"]) == b"\xff\x00ok"


def test_multi_file_python(stack: Stack) -> None:
    body = {
        "language": "python",
        "files": [
            {"name": "app.py", "content": "from lib.util import shout\nprint(shout('hi'))"},
            {"name": "lib/__init__.py", "content": ""},
            {"name": "lib/util.py", "content": "def shout(s):\n    return s.upper() + '!'"},
        ],
        "main_file": "app.py",
    }
    assert run(stack, body)["stdout"] == "HI!\n"


def test_multi_file_c(stack: Stack) -> None:
    body = {
        "language": "c",
        "files": [
            {"name": "main.c", "content": '#include <stdio.h>\n#include "twice.h"\n'
             'int main(void) { printf("%d\\n", twice(21)); return 0; }\n'},
            {"name": "twice.h", "content": "static int twice(int x) { return 2 * x; }\n"},
        ],
    }  # fmt: skip
    assert run(stack, body)["stdout"] == "42\n"


def test_poll_until_done_without_wait(stack: Stack) -> None:
    with stack.api.client() as client:
        accepted = client.post("/v1/runs", json=python("print(6 * 7)"))
        assert accepted.status_code == 202
        result = _poll(client, accepted.json()["id"])
    assert (result["verdict"], result["stdout"]) == ("ok", "42\n")


def test_batch(stack: Stack) -> None:
    submissions = [python("print(int(input()) ** 2)", stdin=f"{n}\n") for n in range(5)]
    with stack.api.client() as client:
        response = client.post("/v1/runs/batch", json={"submissions": submissions})
        assert response.status_code == 202
        ids = [run["id"] for run in response.json()["runs"]]
        for run_id in ids:
            _poll(client, run_id)
        runs = client.get("/v1/runs/batch", params={"ids": ",".join(ids)}).json()["runs"]
    assert [run["stdout"] for run in runs] == [f"{n * n}\n" for n in range(5)]


def _poll(client: httpx.Client, run_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"/v1/runs/{run_id}").json()
        if run["status"] in ("done", "failed"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish within {timeout_s:g} s")


def test_health_is_ready_with_a_worker(stack: Stack) -> None:
    with stack.api.client() as client:
        health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["sandbox"]["ok"] is True
    assert health.json()["workers"]["detail"] == "1 worker(s), 2 sandbox slot(s)"


def test_worker_log_has_no_errors(stack: Stack) -> None:
    log = stack.worker.log()
    assert "Traceback" not in log, log[-4000:]
