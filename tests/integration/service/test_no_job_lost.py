"""No job is ever lost: 200 runs through a worker killed with SIGKILL and a Redis restart.

The worker is the Celery process this test started; SIGKILL leaves its runs `running` with no
acknowledgement. The Redis restart (no persistence) drops every queued message, and the runs
submitted while it is down are stored but never sent. The reconciler must bring all of them
back, and every run must end `done` exactly once, with its own correct output.
"""

from __future__ import annotations

import socket
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from core.config import Settings
from core.db import session_factory
from core.models import Run
from tests.integration.service.conftest import (
    ApiServer,
    RedisServer,
    Worker,
    require_sandbox,
    start_api,
    wait_for,
)

pytestmark = [pytest.mark.root, pytest.mark.images, pytest.mark.redis, pytest.mark.slow]

JOBS = 200
SUBMITTED_WHILE_REDIS_IS_DOWN = 10
# Long enough that the worker is always in the middle of runs when it is killed.
SQUARE = "import time\nn = int(input())\ntime.sleep(0.1)\nprint(n * n)"


class Watch:
    """Reads every run's state from the database, and checks on each read that no run that
    was seen done is ever anything else again (done happens exactly once)."""

    def __init__(self, settings: Settings) -> None:
        self.sessions = session_factory(settings.database)
        self.done: set[uuid.UUID] = set()

    def states(self) -> dict[uuid.UUID, tuple[str, int, str | None]]:
        with self.sessions() as session:
            rows = session.execute(select(Run.id, Run.status, Run.attempts, Run.worker)).all()
        states = {row.id: (row.status, row.attempts, row.worker) for row in rows}
        undone = [run_id for run_id in self.done if states[run_id][0] != "done"]
        assert not undone, f"runs left done: {undone}"
        self.done |= {run_id for run_id, state in states.items() if state[0] == "done"}
        return states

    def count(self, status: str) -> int:
        return sum(1 for state, _, _ in self.states().values() if state == status)


def submit(api: ApiServer, numbers: range) -> dict[str, int]:
    """Submit one run per number (in batches); returns run id -> number."""
    submitted: dict[str, int] = {}
    chunk = api.settings.batch_max_size
    with api.client() as client:
        for start in range(numbers.start, numbers.stop, chunk):
            batch = list(range(start, min(start + chunk, numbers.stop)))
            body = {
                "submissions": [
                    {"language": "python", "source": SQUARE, "stdin": f"{n}\n",
                     "limits": {"wall_time_limit_s": 2}}
                    for n in batch
                ]
            }  # fmt: skip
            response = client.post("/v1/runs/batch", json=body)
            assert response.status_code == 202, response.text
            for run, n in zip(response.json()["runs"], batch, strict=True):
                submitted[run["id"]] = n
    return submitted


def test_no_job_is_lost(database_url: str, tmp_path: Path) -> None:
    ambient = require_sandbox("python")
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    settings = Settings(
        data_dir=tmp_path,
        images_dir=ambient.images_path,
        database_url=database_url,
        broker_url=redis_server.url,
        worker_concurrency=2,
        # Fast recovery for the test: a dead worker's runs come back 2 s after their wall limit,
        # and queued runs whose message is 3 s old are sent again.
        lease_grace_s=2,
        requeue_after_s=3,
        reconcile_interval_s=0.5,
    )
    worker = Worker(settings, tmp_path / "worker.log")
    worker.start()
    api = start_api(settings)
    watch = Watch(settings)
    try:
        expected = submit(api, range(JOBS - SUBMITTED_WHILE_REDIS_IS_DOWN))

        # 1. SIGKILL the worker in the middle of runs, then start a new one.
        wait_for(
            lambda: watch.count("done") >= 40 and watch.count("running") >= 1,
            timeout_s=120,
            what="40 runs done and some running",
        )
        before_kill = watch.states()
        killed = f"{socket.gethostname()}:{worker.pid}"
        worker.kill()
        cut_off = [run_id for run_id, (state, _, _) in before_kill.items() if state == "running"]
        worker.start()

        # 2. Restart Redis (its messages are gone), submitting while it is down.
        wait_for(lambda: watch.count("done") >= 100, timeout_s=120, what="100 runs done")
        redis_server.stop()
        expected |= submit(api, range(JOBS - SUBMITTED_WHILE_REDIS_IS_DOWN, JOBS))
        redis_server.start()

        # 3. Everything finishes, exactly once, correctly.
        wait_for(lambda: watch.count("done") == JOBS, timeout_s=240, what=f"all {JOBS} runs done")
        final = watch.states()
    finally:
        api.stop()
        worker.stop()
        redis_server.stop()

    assert len(expected) == JOBS
    assert Counter(state for state, _, _ in final.values()) == {"done": JOBS}
    with session_factory(settings.database)() as session:
        runs = session.scalars(select(Run)).all()
    for run in runs:
        n = expected[str(run.id)]
        assert (run.verdict, run.stdout) == ("ok", f"{n * n}\n".encode()), run.id
    # The runs the kill cut off were claimed again and finished by the new worker (except one
    # that finished in the instant between the snapshot and the kill).
    rerun = [run_id for run_id in cut_off if final[run_id][1] >= 2]
    assert rerun, [final[run_id] for run_id in cut_off]
    for run_id in set(cut_off) - set(rerun):
        assert final[run_id][2] == killed
    for run_id in rerun:
        assert final[run_id][2] != killed
