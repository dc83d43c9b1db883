"""The Celery worker: `celery -A worker.app worker` (or `jaula up`, which starts one).

The queue configuration is shared with the API (core.queue); what is set here concerns only the
consumer. The pool is threads, one per sandbox slot: a run's work happens in its sandbox launcher
process, so the worker's threads mostly wait, and one process holds every slot. Killing that
process (even with SIGKILL) therefore takes its runs with it, and their leases bring them back.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals

from core.config import get_settings
from core.queue import make_celery

settings = get_settings()
app = make_celery(settings, name="jaula-worker")
app.conf.update(
    worker_pool="threads",
    # Tasks are registered by importing these modules.
    imports=["worker.tasks", "worker.grading"],
)


@signals.after_setup_logger.connect
def _quiet_per_task_lines(**_: Any) -> None:
    """Celery logs two INFO lines per task (received, succeeded): at a hundred runs a second that
    is most of the log, and 0.1-0.2 ms of CPU per run. Every run is recorded in the database, and
    the worker logs what goes wrong; at debug level, the lines come back."""
    if settings.log_level != "debug":
        for name in ("celery.app.trace", "celery.worker.strategy"):
            logging.getLogger(name).setLevel(logging.WARNING)


@signals.worker_ready.connect
def _start_maintenance(sender: Any = None, **_: Any) -> None:
    from worker.maintenance import start

    # The pool's real size: `--concurrency` on the command line wins over the setting.
    slots = getattr(getattr(sender, "controller", None), "concurrency", None)
    start(slots=slots or settings.worker_concurrency)


@signals.worker_shutdown.connect
def _stop_maintenance(**_: Any) -> None:
    from worker.maintenance import stop

    stop()
