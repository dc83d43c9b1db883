"""Real parts for service tests: redis-server, PostgreSQL, the API over HTTP, Celery workers.

Every process a test needs is started here and stopped by its PID. A missing service skips the
test, or fails it when JAULA_REQUIRE_SERVICES=1 (CI), so that a green run means it really ran.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import psycopg
import pytest
import uvicorn

from api.main import create_app
from core.cli.up import settings_env
from core.config import Settings
from core.db import dispose_all, migrate
from core.queue import QUEUE

REPO = Path(__file__).resolve().parents[3]
REQUIRE_SERVICES = os.environ.get("JAULA_REQUIRE_SERVICES") == "1"


def missing(reason: str) -> NoReturn:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (JAULA_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def stop_process(process: subprocess.Popen[bytes], *, timeout_s: float = 20.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- Redis -------------------------------------------------------------------------------------


@dataclass
class RedisServer:
    """A redis-server of our own on a free loopback port; restartable on the same port."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            missing("redis-server is not installed (apt-get install redis-server)")
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
             "--save", "", "--appendonly", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self._answers, timeout_s=10, what=f"redis-server on port {self.port}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


# --- Databases ---------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, migrated database on the server named by JAULA_TEST_POSTGRES_URL; dropped after."""
    server_url = os.environ.get("JAULA_TEST_POSTGRES_URL")
    if not server_url:
        missing("JAULA_TEST_POSTGRES_URL is not set (e.g. postgresql://user:pw@127.0.0.1/postgres)")
    name = f"jaula_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(server_url, autocommit=True)
    except psycopg.OperationalError as exc:
        missing(f"cannot connect to JAULA_TEST_POSTGRES_URL: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _as_url(server_url, name)
    try:
        migrate(url)
        yield url
    finally:
        dispose_all()
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _as_url(server_url: str, dbname: str) -> str:
    """The server URL with its database name replaced."""
    base, _, query = server_url.partition("?")
    scheme, _, rest = base.partition("://")
    authority, _, _old = rest.partition("/")
    return f"{scheme}://{authority}/{dbname}" + (f"?{query}" if query else "")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Each test module runs once against SQLite and once against PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'jaula.db'}"
        migrate(url)
        yield url
        dispose_all()
    else:
        with postgres_database() as url:
            yield url


# --- The API -----------------------------------------------------------------------------------


@dataclass
class ApiServer:
    """The real app under uvicorn, in a thread of the test process, on a free loopback port."""

    settings: Settings
    server: uvicorn.Server
    thread: threading.Thread
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_api(settings: Settings) -> ApiServer:
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout_s=15, what="the API to start")
    return ApiServer(settings, server, thread, port)


ApiFactory = Callable[..., ApiServer]


@pytest.fixture
def api_factory(database_url: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[ApiFactory]:
    """Start an API with the test's database and Redis, plus any settings a test overrides."""
    started: list[ApiServer] = []

    def factory(**overrides: Any) -> ApiServer:
        fields: dict[str, Any] = {
            "data_dir": tmp_path,
            "database_url": database_url,
            "broker_url": redis_server.url,
        }
        settings = Settings(**(fields | overrides))
        api = start_api(settings)
        started.append(api)
        return api

    yield factory
    for api in started:
        api.stop()


@pytest.fixture
def api(api_factory: ApiFactory) -> ApiServer:
    return api_factory()


# --- Workers -----------------------------------------------------------------------------------


@dataclass
class Worker:
    """A real Celery worker process (`celery -A worker.app worker`), as `jaula up` starts it."""

    settings: Settings
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "--queues", QUEUE,
                "--concurrency", str(self.settings.worker_concurrency), "--loglevel", "INFO",
                "--without-gossip", "--without-mingle"]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, env=os.environ | settings_env(self.settings), cwd=REPO, stdout=log, stderr=log
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgements, runs cut off mid-way."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout_s=60)
            self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def require_sandbox(*languages: str) -> Settings:
    """Root and built images for these languages, or skip (fail under JAULA_REQUIRE_SERVICES).
    Returns the ambient settings, whose image store the tests use."""
    if os.geteuid() != 0:
        missing("the sandbox needs root")
    ambient = Settings()
    from core.images import ImageError, open_store
    from core.languages import catalogue

    store = open_store(settings=ambient)
    for name in languages:
        try:
            store.layers_for(catalogue().get(name), catalogue())
        except ImageError as exc:
            missing(f"{exc} (image store {ambient.images_path})")
    return ambient


@dataclass
class Stack:
    """API (in this process) + a real Celery worker process + Redis + a database."""

    api: ApiServer
    worker: Worker

    @property
    def settings(self) -> Settings:
        return self.api.settings


@contextlib.contextmanager
def running_stack(settings: Settings, log_path: Path) -> Iterator[Stack]:
    worker = Worker(settings, log_path)
    worker.start()
    api = start_api(settings)
    try:
        with api.client() as client:
            wait_for(
                lambda: client.get("/healthz").status_code == 200,
                timeout_s=60,
                what="a ready worker (see " + str(log_path) + ")",
            )
        yield Stack(api, worker)
    finally:
        api.stop()
        worker.stop()
