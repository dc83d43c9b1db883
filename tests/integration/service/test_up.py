"""`jaula up`: one command brings up Redis, a worker and the API; Ctrl+C stops all of them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests import http1
from tests.integration.service.conftest import REPO, free_port, require_sandbox, wait_for

pytestmark = [pytest.mark.root, pytest.mark.images, pytest.mark.redis, pytest.mark.slow]

MAX_CONNECTIONS = 8
"""The API's bound on connections at once, low here so that the test can reach it."""


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def idle_connection_still_served(port: int, idle_s: float) -> bool:
    """A client that keeps a connection for reuse (Locust, httpx, browsers) may send on it just
    as the server closes it for idleness: the request is lost. So `jaula up` keeps idle
    connections for longer than such clients do (uvicorn's own default is 5 s)."""
    health = http1.request("GET", "127.0.0.1", port, "/healthz")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        assert (await http1.exchange(reader, writer, health))[0] == 200
        await asyncio.sleep(idle_s)
        try:
            return (await http1.exchange(reader, writer, health))[0] == 200
        except (http1.ConnectionClosed, OSError):
            return False
    finally:
        writer.close()


def assert_connections_past_the_bound_refused(url: str, port: int, bound: int) -> None:
    """With `bound` connections open (idle clients, or slow ones), the next request gets 503 at
    once instead of the API running out of descriptors; once they close, requests are served."""

    def refused_by_the_server() -> bool:
        response = httpx.get(url + "/healthz")
        # uvicorn's own refusal, not the health check's 503 (which is JSON).
        return response.status_code == 503 and response.text == "Service Unavailable"

    idle = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(bound)]
    try:
        # A connection counts once the server has taken it: wait until the refusals start.
        wait_for(refused_by_the_server, timeout_s=10, what="503 past the connection bound")
    finally:
        for conn in idle:
            conn.close()
    wait_for(lambda: httpx.get(url + "/healthz").status_code == 200, timeout_s=10, what="served again")


def test_up_serves_runs_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    ambient = require_sandbox("python")
    port = free_port()
    env = os.environ | {
        "JAULA_DATA_DIR": str(tmp_path),
        "JAULA_IMAGES_DIR": str(ambient.images_path),
        "JAULA_LOCAL_REDIS_PORT": str(free_port()),
        "JAULA_WORKER_CONCURRENCY": "1",
        "JAULA_API_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    }
    env.pop("JAULA_BROKER_URL", None)
    env.pop("JAULA_DATABASE_URL", None)
    up = subprocess.Popen(
        [str(Path(sys.executable).parent / "jaula"), "up", "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert up.stdout is not None
        # The children share the terminal; find our own announcement among their lines.
        lines = iter(up.stdout.readline, b"")
        announced = next(line.decode() for line in lines if line.startswith(b"jaula is up"))
        assert announced.startswith(f"jaula is up: http://127.0.0.1:{port}"), announced
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.get(url + "/healthz").status_code == 200, timeout_s=60, what="ready")
        run = httpx.post(
            url + "/v1/runs", params={"wait": "true"}, timeout=60,
            json={"language": "python", "source": "print('up')"},
        ).json()  # fmt: skip
        assert (run["status"], run["stdout"]) == ("done", "up\n")
        assert (tmp_path / "jaula.db").exists()  # the embedded store

        assert http1.run_apart(idle_connection_still_served(port, idle_s=6))
        assert_connections_past_the_bound_refused(url, port, bound=MAX_CONNECTIONS)

        started = children_of(up.pid)
        assert len(started) == 3  # redis-server, the worker, uvicorn
        up.send_signal(signal.SIGINT)
        up.stdout.read()  # drain, so that no child blocks on a full pipe while stopping
        assert up.wait(timeout=90) == 0
    finally:
        if up.poll() is None:
            # SIGTERM, not SIGKILL: `jaula up` must get the chance to stop its children.
            up.terminate()
            try:
                up.wait(timeout=90)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait()
        if up.stdout is not None:
            up.stdout.close()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in started if alive(pid)]
