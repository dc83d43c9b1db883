"""`jaula up` hands its resolved settings to its children through the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cli.up import settings_env
from core.config import Settings


def test_children_get_the_resolved_store_and_broker() -> None:
    env = settings_env(Settings(data_dir=Path("/srv/j"), local_redis_port=7000))
    assert env["JAULA_DATA_DIR"] == "/srv/j"
    assert env["JAULA_DATABASE_URL"] == "sqlite:////srv/j/jaula.db"
    assert env["JAULA_BROKER_URL"] == "redis://127.0.0.1:7000/0"


def test_every_explicit_setting_round_trips_through_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(
        data_dir=Path("/srv/j"),
        api_tokens=["a", "b"],
        allow_network=True,
        wait_max_s=2.5,
        worker_concurrency=3,
    )
    for key, value in settings_env(settings).items():
        monkeypatch.setenv(key, value)
    rebuilt = Settings()
    for name in ("data_dir", "api_tokens", "allow_network", "wait_max_s", "worker_concurrency"):
        assert getattr(rebuilt, name) == getattr(settings, name), name
