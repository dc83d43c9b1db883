"""Grading on a jaula server, over HTTP: what `jaula grade --server URL` does.

The problem directory is packed canonically (the server receives exactly the files that make up
the problem) and sent with the submissions in one POST /v1/gradings; the grading is then polled
until every submission is finished, and its reports fetched.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from core.grading.archive import pack
from core.grading.problem import Problem
from core.grading.report import SubmissionReport
from core.grading.results import TestResult

TOKEN_HEADER = "X-Auth-Token"
_FINAL = ("done", "failed", "cancelled")


class ServerError(RuntimeError):
    """The server refused the request or failed; the message is its answer."""


class GradingClient:
    def __init__(self, url: str, *, token: str | None = None, timeout_s: float = 60.0) -> None:
        headers = {TOKEN_HEADER: token} if token else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s)

    def __enter__(self) -> GradingClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def submit(
        self,
        problem: Problem,
        submissions: Sequence[tuple[str, str, bytes]],
        *,
        stop_on_first_failure: bool = False,
    ) -> str:
        """Send the problem and the (label, language, source) submissions; the grading's id."""
        archive = pack(problem.directory, problem.files)
        body = {
            "problem": {"archive": base64.b64encode(archive).decode()},
            "submissions": [
                {"label": label, "language": language, "source": base64.b64encode(source).decode()}
                for label, language, source in submissions
            ],
            "stop_on_first_failure": stop_on_first_failure,
            "encoding": "base64",
        }
        answer: dict[str, Any] = self._json(self.http.post("/v1/gradings", json=body))
        return str(answer["id"])

    def grading(self, grading_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._json(self.http.get(f"/v1/gradings/{grading_id}"))
        return answer

    def wait(
        self, grading_id: str, *, on_update: Callable[[dict[str, Any]], None], poll_s: float = 0.5
    ) -> dict[str, Any]:
        """Poll until the grading is finished; `on_update` gets every state seen."""
        while True:
            state = self.grading(grading_id)
            on_update(state)
            if state["status"] in _FINAL:
                return state
            time.sleep(poll_s)

    def report_json(self, grading_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._json(self.http.get(f"/v1/gradings/{grading_id}/report.json"))
        return answer

    def report_csv(self, grading_id: str) -> str:
        response = self.http.get(f"/v1/gradings/{grading_id}/report.csv")
        self._check(response)
        return response.text

    def _json(self, response: httpx.Response) -> Any:
        self._check(response)
        return response.json()

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.is_success:
            return
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise ServerError(
            f"{response.request.method} {response.request.url.path}: {response.status_code} {detail}"
        )


def reports_of(state: dict[str, Any]) -> list[SubmissionReport]:
    """The submissions of a GET /v1/gradings/{id} answer, as reports (tests that ran only)."""
    return [
        SubmissionReport(
            label=submission["label"],
            language=submission["language"],
            status=submission["status"],
            tests=[TestResult.from_json(test) for test in submission["tests"] if test["verdict"] is not None],
            message=submission["message"],
        )
        for submission in state["submissions"]
    ]
