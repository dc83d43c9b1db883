"""Settings, read from the environment in one place (prefix JAULA_, e.g. JAULA_DATABASE_URL).

Embedded default: everything under one data directory (SQLite file, images, scratch, a local
redis-server started by `jaula up`). Production: PostgreSQL and a shared Redis by URL.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LIST_HARD_MAX = 10_000
"""Most items a request's list may have whatever the settings say: the schemas refuse longer
lists before validating any item (validating a million of them held the event loop for 29 s)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JAULA_", env_file=".env", extra="ignore")

    data_dir: Path = Path("/var/lib/jaula")
    """Root of everything jaula writes by default."""
    images_dir: Path | None = None
    """Image store (base and language layers); default: <data_dir>/images."""
    scratch_dir: Path | None = None
    """Per-job scratch (compiled artefacts); default: <data_dir>/scratch."""
    image_distro: Literal["debian", "alpine"] = "debian"
    """Which built image set runs programs (`jaula images build --distro` builds either)."""
    apt_sources: Path | None = None
    """apt sources file for the Debian base; default: the one named in rootfs/base/base.toml."""
    database_url: str | None = None
    """SQLAlchemy URL; default: sqlite:///<data_dir>/jaula.db."""
    broker_url: str | None = None
    """Redis URL of the Celery broker; default: a redis-server that `jaula up` starts."""
    local_redis_port: int = 6399

    # Sandbox slots on this host: each worker process runs one sandbox at a time.
    worker_concurrency: int = Field(default_factory=lambda: os.cpu_count() or 1)

    # Operator maxima: a request may ask for any limit up to these.
    max_cpu_time_limit_s: float = 20.0
    max_wall_time_limit_s: float = 60.0
    max_memory_limit_mb: int = 2048
    max_pids_limit: int = 256
    max_output_limit_kb: int = 4096
    max_file_size_limit_kb: int = 65536
    allow_network: bool = False

    # Request size caps.
    max_source_bytes: int = 256 * 1024
    max_files: int = 32
    max_stdin_bytes: int = 4 * 1024 * 1024
    max_args: int = 64
    max_arg_bytes: int = 4096
    max_compiler_options: int = 16

    # --- The service (docs/service.md) ---
    # Web API.
    batch_max_size: Annotated[int, Field(ge=1, le=LIST_HARD_MAX)] = 20
    """Most runs in one POST /v1/runs/batch or GET /v1/runs/batch?ids=."""
    api_max_connections: int = 1000
    """Connections and requests one API process serves at once (`jaula up`); past it, 503. In
    production a reverse proxy in front should also bound slow clients (docs/service.md)."""
    body_timeout_s: float = 60.0
    """Longest a request's body may take to arrive (a client sending it a byte at a time holds
    a connection); past it, 408."""
    wait_max_s: float = 10.0
    """Longest a `?wait=true` request is held open before it answers 202 with the id."""
    max_queued_jobs: int = 10_000
    """Past this many queued jobs, new submissions get 503 with Retry-After."""
    queue_full_retry_after_s: int = 5
    api_tokens: Annotated[list[str], NoDecode] = []
    """Comma-separated API tokens, sent in the X-Auth-Token header; empty: the API is open."""
    rate_limit_per_minute: int = 600
    """Runs each token may submit per minute (0: unlimited); a batch counts each of its runs."""
    rate_limit_burst: int = 60
    """Runs a token may submit at once above the steady rate."""
    api_processes: int = 1
    """Uvicorn worker processes started by `jaula up`."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Of the processes `jaula up` starts (info: the worker logs every run it receives)."""

    # Worker and reconciler.
    lease_grace_s: float = 30.0
    """A running job not finished this long after its time limits is presumed lost and requeued."""
    requeue_after_s: float = 60.0
    """A job still queued this long after its message was sent is sent again (lost message)."""
    reconcile_interval_s: float = 5.0
    max_attempts: int = 3
    """A job whose worker died this many times is failed instead of being tried again."""
    broker_visibility_timeout_s: int = 300
    """Redis transport: an unacknowledged message is redelivered after this long."""

    # --- Batch grading (docs/grading.md) ---
    problems_dir: Path | None = None
    """Problems offered by name (GET /v1/problems); default: the samples in the repository."""
    grading_max_submissions: Annotated[int, Field(ge=1, le=LIST_HARD_MAX)] = 500
    """Most submissions in one POST /v1/gradings."""
    grading_max_problem_bytes: int = 32 * 1024 * 1024
    """Largest uploaded problem archive (zip or tar), as sent."""
    grading_max_problem_unpacked_bytes: int = 256 * 1024 * 1024
    """Largest problem once unpacked (all its files together)."""
    grading_max_problem_files: int = 4096
    """Most files and directories in an uploaded problem."""

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: object) -> object:
        if isinstance(value, str):
            return [token.strip() for token in value.split(",") if token.strip()]
        return value

    @property
    def images_path(self) -> Path:
        return self.images_dir or self.data_dir / "images"

    @property
    def scratch_path(self) -> Path:
        return self.scratch_dir or self.data_dir / "scratch"

    @property
    def problems_path(self) -> Path:
        return self.problems_dir or Path(__file__).resolve().parent.parent / "problems"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'jaula.db'}"

    @property
    def broker(self) -> str:
        return self.broker_url or f"redis://127.0.0.1:{self.local_redis_port}/0"


@cache
def get_settings() -> Settings:
    return Settings()
