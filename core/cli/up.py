"""`jaula up`: the whole service on this machine, in one command.

    migrate the database (SQLite under the data dir by default)
    redis-server          only when no JAULA_BROKER_URL is set: on 127.0.0.1, no persistence
    celery worker         one process, `worker_concurrency` sandbox slots
    uvicorn               the API (and `api_processes` processes of it)

Children run in their own sessions, so Ctrl+C in the terminal reaches only this process, which
then stops them in order (API first, so nothing new arrives; then the worker, which finishes or
hands back its runs; Redis last), by PID, and waits for each. If a child dies on its own, the
others are stopped too and `jaula up` exits non-zero: a half-running service is not left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import httpx
import typer

from core.config import Settings, get_settings

KEEP_ALIVE_S = 65
"""How long the API keeps an idle client connection open. uvicorn's default, 5 s, is shorter
than the pause of a client between two requests (a playground user reading a result, a poller
backing off), and a request sent just as the server closes the idle connection fails on the
client's side with no response (the likeliest cause of the one failed request in the load test
at 100 users). 65 s outlasts those pauses and a reverse proxy's usual 60 s."""

STOP_TIMEOUT_S = {"api": 10.0, "worker": 30.0, "redis": 10.0}


class StartFailed(RuntimeError):
    pass


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]


@dataclass
class Service:
    """One service instance's processes; as a context manager, always stops what it started."""

    settings: Settings
    host: str = "127.0.0.1"
    port: int = 8000
    children: list[Child] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> Service:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if settings.broker_url is None:
            self._start_redis()
        from core.db import migrate  # SQLAlchemy: loaded to start, not for every `jaula` command

        migrate(settings.database)
        self._spawn("worker", self._worker_argv())
        self._spawn("api", self._api_argv())
        self._wait_for_api()

    def env(self) -> dict[str, str]:
        """The children's environment: the settings this process resolved, made explicit."""
        return os.environ | settings_env(self.settings)

    def _spawn(self, name: str, argv: list[str]) -> Child:
        process = subprocess.Popen(argv, env=self.env(), start_new_session=True)
        child = Child(name, process)
        self.children.append(child)
        return child

    def _start_redis(self) -> None:
        redis_server = shutil.which("redis-server")
        if redis_server is None:
            raise StartFailed(
                "redis-server is not installed (apt-get install redis-server), "
                "and no JAULA_BROKER_URL names another Redis"
            )
        redis_dir = self.settings.data_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        port = str(self.settings.local_redis_port)
        argv = [redis_server, "--bind", "127.0.0.1", "--port", port, "--dir", str(redis_dir)]
        # Embedded broker: no persistence. A run's message lost with it is resent by the
        # reconciler from the database, which is the durable record.
        argv += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"]
        argv += ["--logfile", str(redis_dir / "redis.log")]
        child = self._spawn("redis", argv)
        _wait_for_port(child, "127.0.0.1", self.settings.local_redis_port)

    def _worker_argv(self) -> list[str]:
        from core.queue import QUEUE  # Celery: loaded to start a worker, not for every command

        return [
            sys.executable, "-m", "celery", "-A", "worker.app", "worker",
            "--queues", QUEUE,
            "--concurrency", str(self.settings.worker_concurrency),
            "--loglevel", self.settings.log_level.upper(),
            # One worker per host needs no cluster chatter at start-up.
            "--without-gossip", "--without-mingle",
        ]  # fmt: skip

    def _api_argv(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory",
            "--host", self.host, "--port", str(self.port),
            "--workers", str(self.settings.api_processes),
            "--no-access-log", "--log-level", _quieter(self.settings.log_level),
            "--timeout-keep-alive", str(KEEP_ALIVE_S),
            # Past this many connections and requests at once, new ones get 503 at once rather
            # than the process running out of descriptors (slow clients can hold many open).
            "--limit-concurrency", str(self.settings.api_max_connections),
        ]  # fmt: skip

    def _wait_for_api(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_children()
            try:
                httpx.get(self.url + "/healthz", timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise StartFailed(f"the API did not answer on {self.url} within {timeout_s:g} s")

    def wait_ready(self, timeout_s: float = 30.0) -> bool:
        """Wait until /healthz says ready (a worker is alive and its sandbox self-check passed)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_children()
            try:
                if httpx.get(self.url + "/healthz", timeout=2.0).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        return False

    def check_children(self) -> None:
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                raise StartFailed(f"{child.name} (pid {child.process.pid}) exited with code {code}")

    def stop(self) -> None:
        """Stop every child, last started first, each by its PID; wait for each."""
        while self.children:
            child = self.children.pop()
            stop_process(child.process, STOP_TIMEOUT_S.get(child.name, 10.0))


def _quieter(level: str) -> str:
    # uvicorn's info level logs every connection; one level up keeps start-up and errors.
    return "warning" if level == "info" else level


def settings_env(settings: Settings) -> dict[str, str]:
    """Settings as JAULA_* variables, so that child processes resolve exactly the same ones."""
    env: dict[str, str] = {}
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, list):
            text = ",".join(str(item) for item in value)
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        env[f"JAULA_{name.upper()}"] = text
    env["JAULA_DATA_DIR"] = str(settings.data_dir)
    env["JAULA_DATABASE_URL"] = settings.database
    env["JAULA_BROKER_URL"] = settings.broker
    return env


def stop_process(process: subprocess.Popen[Any], timeout_s: float) -> int:
    """SIGTERM, then SIGKILL after `timeout_s`; wait for it and return its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def _wait_for_port(child: Child, host: str, port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise StartFailed(f"{child.name} exited with code {child.process.returncode}")
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise StartFailed(f"{child.name} did not listen on {host}:{port} within {timeout_s:g} s")


class _Stop(Exception):
    pass


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    # Only the first signal interrupts; more Ctrl+C presses must not cut the orderly stop short.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    raise _Stop(signal.Signals(signum).name)


def serve(settings: Settings, host: str, port: int) -> int:
    """Run until SIGINT/SIGTERM or until a child dies; return the exit status."""
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with Service(settings, host, port) as service:
            print(f"jaula is up: {service.url}  (API docs: {service.url}/docs)", flush=True)
            print(f"data: {settings.data_dir}   stop with Ctrl+C", flush=True)
            if not service.wait_ready():
                print("warning: not ready yet; see " + service.url + "/healthz", flush=True)
            while True:
                service.check_children()
                time.sleep(0.5)
    except _Stop as stop:
        print(f"\n{stop}: stopping", flush=True)
        return 0
    except StartFailed as exc:
        print(f"jaula up: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def register(app: typer.Typer) -> None:
    @app.command()
    def up(
        host: str = typer.Option("127.0.0.1", help="Address the API listens on."),
        port: int = typer.Option(8000, help="Port the API listens on."),
    ) -> None:
        """Run the service here: migrate, then start the API, a worker and (if needed) Redis."""
        raise typer.Exit(serve(get_settings(), host, port))
