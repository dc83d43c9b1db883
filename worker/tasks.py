"""Celery tasks: thin wrappers that turn a message (a run id) into a call to worker.execute."""

from __future__ import annotations

import uuid

from core.queue import RUN_TASK, send_runs
from worker.app import app
from worker.execute import carry_out, context


@app.task(name=RUN_TASK)
def run(run_id: str) -> None:
    """Claim, run and finish one run; a duplicate message for the same run does nothing."""
    carry_out(uuid.UUID(run_id), resend=lambda again: send_runs(context().redis, [again]))
