"""Settings, read from the environment in one place (prefix JAULA_, e.g. JAULA_DATABASE_URL).

Embedded default: everything under one data directory (SQLite file, images, scratch, a local
redis-server started by `jaula up`). Production: PostgreSQL and a shared Redis by URL.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    @property
    def images_path(self) -> Path:
        return self.images_dir or self.data_dir / "images"

    @property
    def scratch_path(self) -> Path:
        return self.scratch_dir or self.data_dir / "scratch"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'jaula.db'}"


@cache
def get_settings() -> Settings:
    return Settings()
