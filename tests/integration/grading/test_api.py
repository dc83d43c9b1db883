"""POST /v1/gradings refuses what it cannot grade, with a message saying what to change; the
problem library; reading and cancelling. No worker is needed: nothing here runs."""

from __future__ import annotations

import base64
import io
import tarfile
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.db import session_factory
from core.grading import jobs
from core.grading.models import GradingProblem
from tests.integration.grading.conftest import SUBMISSIONS
from tests.integration.service.conftest import (
    ApiFactory,
    api_factory,  # noqa: F401 (a fixture)
    database_url,  # noqa: F401 (a fixture: each module runs on SQLite and on PostgreSQL)
    redis_server,  # noqa: F401 (a fixture)
)

pytestmark = [pytest.mark.redis]

PYTHON = {"language": "python", "source": (SUBMISSIONS / "aplusb" / "accepted.py").read_text()}


def post(
    client: httpx.Client, problem: dict[str, Any], submissions: list[dict[str, Any]] | None = None
) -> httpx.Response:
    return client.post("/v1/gradings", json={"problem": problem, "submissions": submissions or [PYTHON]})


def tar_archive(entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for item in entries:
            if isinstance(item, tarfile.TarInfo):
                tar.addfile(item)
                continue
            info = tarfile.TarInfo(item[0])
            info.size = len(item[1])
            tar.addfile(info, io.BytesIO(item[1]))
    return base64.b64encode(buffer.getvalue()).decode()


PROBLEM = [("problem.toml", b'name = "p"\n'), ("tests/1.in", b"1 2\n"), ("tests/1.out", b"3\n")]


def refused(response: httpx.Response, status: int = 422) -> str:
    assert response.status_code == status, response.text
    detail: str = response.json()["detail"]
    return detail


def test_the_problem_must_exist(api_factory: ApiFactory) -> None:  # noqa: F811
    with api_factory().client() as client:
        detail = refused(post(client, {"name": "nope"}))
        assert "no problem named 'nope'; known problems: any-divisor, aplusb, circle, fibonacci" in detail
        assert "exactly one of `name`" in refused(post(client, {"name": "aplusb", "archive": "x"}))
        assert "exactly one of `name`" in refused(post(client, {}))


def test_uploads_are_checked(api_factory: ApiFactory) -> None:  # noqa: F811
    with api_factory().client() as client:
        assert "not valid base64" in refused(post(client, {"archive": "%%%"}))
        garbage = base64.b64encode(b"this is no archive").decode()
        assert "not a readable zip or tar archive" in refused(post(client, {"archive": garbage}))
        escaping = tar_archive([*PROBLEM, ("../../etc/cron.d/x", b"* * * * * root sh\n")])
        assert "contains '..'" in refused(post(client, {"archive": escaping}))
        link = tarfile.TarInfo("tests/2.in")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
        assert "is a symbolic link" in refused(post(client, {"archive": tar_archive([*PROBLEM, link])}))


def test_an_invalid_problem_is_explained_line_by_line(api_factory: ApiFactory) -> None:  # noqa: F811
    archive = tar_archive(
        [("problem.toml", b'name = "p"\n[limits]\ncpu_time_s = -1\n'), ("tests/1.in", b"1\n")]
    )
    with api_factory().client() as client:
        response = post(client, {"archive": archive})
    refused(response)
    assert response.json()["errors"] == [
        "problem: problem.toml:3: limits.cpu_time_s: input should be greater than 0 (it is -1)",
        "problem: tests/1.in: has no expected output 1.out beside it",
    ]


def test_submissions_are_checked_like_runs(api_factory: ApiFactory) -> None:  # noqa: F811
    with api_factory().client() as client:
        detail = refused(post(client, {"name": "aplusb"}, [PYTHON, {"language": "cobol", "source": "x"}]))
        assert detail.startswith("submissions[1].language: unknown language 'cobol'")
        options = {"language": "c", "source": "int main(){}", "compiler_options": ["-fplugin=x.so"]}
        assert "submissions[0].compiler_options[0]" in refused(post(client, {"name": "aplusb"}, [options]))
        bad_label = {**PYTHON, "label": "bell\x07"}
        assert "submissions[0].label: contains control characters" in refused(
            post(client, {"name": "aplusb"}, [bad_label])
        )


def test_caps(api_factory: ApiFactory) -> None:  # noqa: F811
    api = api_factory(grading_max_submissions=2, grading_max_problem_bytes=100, max_cpu_time_limit_s=0.5)
    with api.client() as client:
        assert "over this server's maximum of 2 per grading" in refused(
            post(client, {"name": "aplusb"}, [PYTHON] * 3)
        )
        big = base64.b64encode(b"x" * 1000).decode()
        assert "over this server's maximum of 100 bytes" in refused(post(client, {"archive": big}), 413)
        detail = refused(post(client, {"name": "aplusb"}))
        assert (
            "problem aplusb asks, for python, cpu_time_limit_s=3 is over this server's maximum of 0.5"
            in detail
        )


def test_a_full_queue_answers_503(api_factory: ApiFactory) -> None:  # noqa: F811
    api = api_factory()
    with session_factory(api.settings.database)() as session:
        queued = jobs.count_queued(session=session)
    with api_factory(max_queued_jobs=queued + 2).client() as client:
        first = post(client, {"name": "aplusb"}, [PYTHON])
        assert first.status_code == 202  # room for one more now, and the next grading needs two
        response = post(client, {"name": "aplusb"}, [PYTHON, PYTHON])
    refused(response, 503)
    assert response.headers["Retry-After"]


def test_a_grading_larger_than_the_whole_queue_answers_422(api_factory: ApiFactory) -> None:  # noqa: F811
    with api_factory(max_queued_jobs=1).client() as client:
        response = post(client, {"name": "aplusb"}, [PYTHON, PYTHON])
    refused(response, 422)
    assert "more than this server ever queues (1)" in response.json()["detail"]


def test_reading_and_cancelling(api_factory: ApiFactory) -> None:  # noqa: F811
    api = api_factory()
    with api.client() as client:
        missing = "00000000-0000-0000-0000-000000000000"
        assert client.get(f"/v1/gradings/{missing}").status_code == 404
        assert client.get(f"/v1/gradings/{missing}/report.csv").status_code == 404
        assert client.delete(f"/v1/gradings/{missing}").status_code == 404
        first = post(client, {"name": "aplusb"}, [PYTHON, {**PYTHON, "label": "bob"}])
        second = post(client, {"name": "aplusb"}, [PYTHON])
        assert first.status_code == second.status_code == 202
        grading_id = first.json()["id"]
        state = client.get(f"/v1/gradings/{grading_id}").json()
        # No worker here: still queued, nothing run.
        assert state["status"] == "queued"
        assert [s["label"] for s in state["submissions"]] == ["submission 1", "bob"]
        assert {t["verdict"] for s in state["submissions"] for t in s["tests"]} == {None}
        report = client.get(f"/v1/gradings/{grading_id}/report.json").json()
        assert [s["score"] for s in report["submissions"]] == [0, 0]
        csv_text = client.get(f"/v1/gradings/{grading_id}/report.csv")
        assert csv_text.headers["content-type"].startswith("text/csv")
        assert csv_text.text.splitlines()[0].startswith("label,language,status,verdict,score,max_score,")
        cancelled = client.delete(f"/v1/gradings/{grading_id}").json()
        assert cancelled["status"] == "cancelled"
        assert [s["status"] for s in cancelled["submissions"]] == ["cancelled", "cancelled"]
    # The same problem twice: stored once (its digest is its key).
    with session_factory(api.settings.database)() as session:
        assert session.scalar(select(func.count()).select_from(GradingProblem)) == 1


def test_the_problem_library(api_factory: ApiFactory) -> None:  # noqa: F811
    with api_factory().client() as client:
        problems = client.get("/v1/problems").json()["problems"]
        assert [p["name"] for p in problems] == ["any-divisor", "aplusb", "circle", "fibonacci"]
        fibonacci = next(p for p in problems if p["name"] == "fibonacci")
        assert [(s["name"], s["points"]) for s in fibonacci["subtasks"]] == [
            ("small", 20),
            ("medium", 30),
            ("large", 50),
        ]
        one = client.get("/v1/problems/circle").json()
        assert one["checker"] == "float" and one["statement"].startswith("# Area of a circle")
        assert client.get("/v1/problems/nope").status_code == 404
