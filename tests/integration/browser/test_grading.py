"""The grading view end to end, in a real browser against a real service: a problem the server
offers or one uploaded (an archive, a folder), several solutions, live progress, the results
table, the CSV, and a link that reopens the grading."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.integration.browser.conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.root, pytest.mark.images, pytest.mark.redis, pytest.mark.slow]

GRADING_TIMEOUT_MS = 180_000
PROBLEMS = REPO / "problems"


def open_grading(page: Page, path: str = "/#grading") -> None:
    page.goto(path)
    page.wait_for_selector("body[data-ready=true]")
    expect(page.get_by_role("heading", name="Grading", exact=True)).to_be_visible()


def wait_until_finished(page: Page) -> None:
    page.wait_for_function(
        "['done', 'failed', 'cancelled'].includes(document.querySelector('#grading-status').dataset.status)",
        timeout=GRADING_TIMEOUT_MS,
    )


def row(page: Page, label: str) -> dict[str, str | None]:
    cells = page.locator(f"#grading-table tr[data-label='{label}']")
    expect(cells).to_have_count(1)
    return {
        "verdict": cells.locator("td .badge").get_attribute("data-verdict"),
        "score": cells.locator("td.score").inner_text(),
    }


def test_a_sample_problem_with_the_example_solutions(page: Page, tmp_path: Path) -> None:
    if not (PROBLEMS / "aplusb" / "problem.toml").is_file():
        pytest.fail("problems/aplusb is missing: the sample problem the grading view offers")
    open_grading(page)
    expect(page.get_by_label("Offered problem")).to_have_value("aplusb")
    page.get_by_role("button", name="Add example solutions for A + B").click()
    expect(page.locator("table.solutions tbody tr")).to_have_count(6)
    page.get_by_label("Stop each solution at its first failed test").check()
    page.get_by_role("button", name="Grade", exact=True).click()

    # Progress shows while it runs, and the address becomes the grading's own.
    expect(page.locator("#grading-progress")).to_be_visible()
    page.wait_for_url("**/#grading=*")
    wait_until_finished(page)
    expect(page.locator("#grading-status")).to_contain_text("6 of 6 solutions")

    assert row(page, "ada.py") == {"verdict": "accepted", "score": "8 / 8"}
    assert row(page, "grace.cpp") == {"verdict": "accepted", "score": "8 / 8"}
    assert row(page, "alan.py")["verdict"] == "runtime_error"  # test 07 has b on its own line
    assert row(page, "linus.js")["verdict"] == "wrong_answer"
    assert row(page, "ken.py")["verdict"] == "time_limit"
    assert row(page, "dennis.cpp") == {"verdict": "compile_error", "score": "0 / 8"}
    ken = page.locator("#grading-table tr[data-label='ken.py']")
    expect(ken.locator("td[data-test='01']")).to_have_attribute("data-verdict", "time_limit")
    expect(ken.locator("td[data-test='02']")).to_have_attribute("data-verdict", "skipped")
    dennis = page.locator("#grading-table tr[data-label='dennis.cpp']")
    dennis.get_by_text("Details").click()
    expect(dennis.locator("details pre")).to_contain_text("error")

    # The CSV downloads, one row per solution.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    path = tmp_path / "report.csv"
    download_info.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [r["label"] for r in rows] == [
        "ada.py",
        "grace.cpp",
        "alan.py",
        "linus.js",
        "ken.py",
        "dennis.cpp",
    ]
    assert rows[0]["score"] in {"8", "8.0"} and rows[0]["verdict"] == "accepted"

    # The address reopens the same grading for anyone.
    url = page.url
    page.goto("about:blank")
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    wait_until_finished(page)
    assert row(page, "grace.cpp") == {"verdict": "accepted", "score": "8 / 8"}


def test_an_uploaded_archive_and_solution_files(page: Page, tmp_path: Path) -> None:
    archive = tmp_path / "circle.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in sorted((PROBLEMS / "circle").rglob("*")):
            if file.is_file():
                zipped.write(file, Path("circle") / file.relative_to(PROBLEMS / "circle"))
    right = tmp_path / "exact.py"
    right.write_text("import math\nr = float(input())\nprint(f'{math.pi * r * r:.10f}')\n")
    rough = tmp_path / "rough.cpp"
    rough.write_text(
        "#include <cstdio>\n"
        'int main() { double r; std::scanf("%lf", &r); std::printf("%.2f\\n", 3.14 * r * r); }\n'
    )
    open_grading(page)
    page.get_by_label("Archive (.zip or .tar, optionally compressed)").set_input_files(archive)
    expect(page.get_by_label("Upload a problem")).to_be_checked()
    page.get_by_label("Solution files").set_input_files([right, rough])
    expect(page.get_by_label("Language of exact.py")).to_have_value("python")
    expect(page.get_by_label("Language of rough.cpp")).to_have_value("cpp")
    page.get_by_role("button", name="Grade", exact=True).click()
    wait_until_finished(page)
    assert row(page, "exact.py") == {"verdict": "accepted", "score": "8 / 8"}
    assert row(page, "rough.cpp")["verdict"] == "wrong_answer"


def test_an_uploaded_folder_with_subtasks(page: Page, tmp_path: Path) -> None:
    fast = tmp_path / "fast.py"
    fast.write_text(
        "n = int(input())\na, b = 0, 1\nfor _ in range(n):\n    a, b = b, (a + b) % 1_000_000_007\nprint(a)\n"
    )
    open_grading(page)
    page.get_by_label("or a folder").set_input_files(PROBLEMS / "fibonacci")
    page.get_by_label("Solution files").set_input_files(fast)
    page.get_by_role("button", name="Grade", exact=True).click()
    wait_until_finished(page)
    result = row(page, "fast.py")
    assert result["score"] is not None and result["score"].endswith("/ 100")


def test_mistakes_are_explained_before_sending(page: Page) -> None:
    open_grading(page)
    grade = page.get_by_role("button", name="Grade", exact=True)
    error = page.locator("#grading-error")
    grade.click()
    expect(error).to_contain_text("add at least one solution")
    page.get_by_label("Solution files").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}
    )
    expect(page.get_by_label("Language of notes.txt")).to_have_value("")
    grade.click()
    expect(error).to_contain_text("choose the language of “notes.txt”")
    page.get_by_label("Upload a problem").check()
    grade.click()
    expect(error).to_contain_text("choose an archive or a folder")


def test_a_grading_can_be_cancelled(page: Page) -> None:
    open_grading(page)
    page.get_by_role("button", name="Add example solutions for A + B").click()
    page.get_by_role("button", name="Grade", exact=True).click()
    cancel = page.get_by_role("button", name="Cancel")
    cancel.click()
    wait_until_finished(page)
    expect(page.locator("#grading-status")).to_have_attribute("data-status", "cancelled")
    expect(page.locator("#grading-status")).to_contain_text("Cancelled")
    expect(cancel).to_have_count(0)  # nothing left to cancel
    # What had not run yet never will: some tests have no verdict.
    assert page.locator("#grading-table td.pending").count() > 0
