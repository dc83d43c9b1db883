"""A real jaula service and a real browser for the playground's tests.

The service is started as `jaula up` starts it (core.cli.up.Service: a redis-server of its own,
a Celery worker with the real sandbox, the API under uvicorn), on a free loopback port with its
own data directory, and stopped by PID. The browser is Debian's Chromium driven by Playwright.

Anything missing (Chromium, the built playground, root, an image) skips the tests, or fails them
when JAULA_REQUIRE_SERVICES=1 (CI), so that a green run means they really ran.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from api.routes.web import WEB_DIST
from core.cli.up import Service, StartFailed
from core.config import Settings

REQUIRE_SERVICES = os.environ.get("JAULA_REQUIRE_SERVICES") == "1"
CHROMIUM = os.environ.get("JAULA_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LANGUAGES = ("python", "cpp", "javascript", "bash")
"""Images the tests need (CI builds python c cpp javascript bash)."""
REPO = Path(__file__).resolve().parents[3]


def missing(reason: str) -> NoReturn:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (JAULA_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _require_sandbox(ambient: Settings) -> None:
    if os.geteuid() != 0:
        missing("the sandbox needs root")
    if shutil.which("redis-server") is None:
        missing("redis-server is not installed (apt-get install redis-server)")
    from core.images import ImageError, open_store
    from core.languages import catalogue

    store = open_store(settings=ambient)
    for name in LANGUAGES:
        try:
            store.layers_for(catalogue().get(name), catalogue())
        except ImageError as exc:
            missing(f"{exc} (image store {ambient.images_path}; jaula images build {name})")


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The whole service, as `jaula up` runs it; yields its base URL."""
    if not (WEB_DIST / "index.html").is_file():
        missing(f"the playground is not built ({WEB_DIST}); run `npm ci && npm run build` in web/")
    ambient = Settings()
    _require_sandbox(ambient)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("jaula-browser"),
        images_dir=ambient.images_path,
        local_redis_port=free_port(),
        worker_concurrency=2,
        log_level="warning",
    )
    service = Service(settings, host="127.0.0.1", port=free_port())
    try:
        service.start()
        if not service.wait_ready(timeout_s=90):
            health = httpx.get(service.url + "/healthz", timeout=5).text
            pytest.fail(f"the service did not become ready: {health}")
        yield service.url
    except StartFailed as exc:
        pytest.fail(f"jaula did not start: {exc}")
    finally:
        service.stop()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium chromium-driver)")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


class PageProblems:
    """What went wrong inside the page: uncaught errors and requests to anywhere but the service.
    (Console errors are kept for the report only: Chromium logs every 4xx the tests provoke.)"""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.console: list[str] = []
        self.uncaught: list[str] = []
        self.foreign_requests: list[str] = []

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console.append(message.text)

    def on_page_error(self, error: Exception) -> None:
        self.uncaught.append(str(error))

    def on_request(self, url: str) -> None:
        if not url.startswith((self.origin, "data:")):
            self.foreign_requests.append(url)


@pytest.fixture
def page_problems(service: str) -> PageProblems:
    return PageProblems(service)


@pytest.fixture
def page(browser: Browser, service: str, page_problems: PageProblems) -> Iterator[Page]:
    """A fresh browser context (empty local storage) on the service, checked for page errors."""
    # The tests' own probes (wait_for_function) evaluate strings in the page, which the
    # playground's Content-Security-Policy forbids; test_csp.py checks the policy itself.
    context = browser.new_context(base_url=service, viewport={"width": 1280, "height": 860}, bypass_csp=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.on("console", page_problems.on_console)
    page.on("pageerror", page_problems.on_page_error)
    page.on("request", lambda request: page_problems.on_request(request.url))
    yield page
    context.close()
    assert not page_problems.uncaught, f"uncaught errors in the page; console: {page_problems.console}"
    assert not page_problems.foreign_requests, "the page fetched from elsewhere (it must work offline)"


def open_playground(page: Page, path: str = "/") -> None:
    page.goto(path)
    page.wait_for_selector("body[data-ready=true]")
