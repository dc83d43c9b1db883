"""What the playground needs from the API: each language's hello world, and a run that reads
back with its program, stdin and arguments (for permalinks); the page itself served at `/`."""

from __future__ import annotations

import httpx
import pytest

pytestmark = [pytest.mark.root, pytest.mark.images, pytest.mark.redis]


def test_languages_give_their_hello_world(service: str) -> None:
    languages = httpx.get(service + "/v1/languages", timeout=10).json()["languages"]
    python = next(language for language in languages if language["name"] == "python")
    assert python["hello_world"] == 'print("Hello, World!")\n'
    assert all(language["hello_world"].strip() for language in languages)


def test_a_run_reads_back_with_its_program_stdin_and_args(service: str) -> None:
    body = {"language": "bash", "source": 'echo "$1"; cat', "stdin": "in\n", "args": ["a b"]}
    run = httpx.post(service + "/v1/runs?wait=true", json=body, timeout=30).json()
    read = httpx.get(f"{service}/v1/runs/{run['id']}", timeout=10).json()
    assert read["files"] == [{"name": "main.sh", "content": 'echo "$1"; cat', "encoding": "utf-8"}]
    assert read["main_file"] == "main.sh"
    assert (read["stdin"], read["stdin_encoding"], read["args"]) == ("in\n", "utf-8", ["a b"])
    assert read["stdout"] == "a b\nin\n"


def test_the_playground_is_served_at_the_root(service: str) -> None:
    page = httpx.get(service + "/", timeout=10)
    assert page.status_code == 200 and "<title>jaula</title>" in page.text
    assert page.headers["cache-control"] == "no-cache"
    assert httpx.get(service + "/v1/nope", timeout=10).json()["detail"].startswith("No such endpoint")
