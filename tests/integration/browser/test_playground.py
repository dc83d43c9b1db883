"""The playground in a real browser against a real service: languages, runs, stdin, limits,
permalinks, local storage, keyboard use, a phone-sized screen, readable errors."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.integration.browser.conftest import REPO
from tests.integration.browser.playground_page import Playground

pytestmark = [pytest.mark.browser, pytest.mark.root, pytest.mark.images, pytest.mark.redis, pytest.mark.slow]

SCREENSHOT = REPO / "docs" / "img" / "playground.png"

STDIN_PROGRAM = """import sys

name = sys.stdin.readline().strip()
print(f"Hello, {name}!")
print("args:", sys.argv[1:])
"""


def hello_worlds(service: str) -> dict[str, str]:
    languages = httpx.get(service + "/v1/languages", timeout=10).json()["languages"]
    return {language["name"]: language["hello_world"] for language in languages}


def test_page_loads_offline_with_the_catalogue(page: Page, service: str) -> None:
    playground = Playground(page).open()
    expect(page).to_have_title("Playground · jaula")
    options = page.locator("#language option")
    names = options.evaluate_all("options => options.map(o => o.value)")
    assert {"python", "cpp", "javascript", "bash"} <= set(names)
    # Python is the first language a new visitor sees, with its hello world in the editor.
    expect(page.get_by_label("Language", exact=True)).to_have_value("python")
    assert playground.code().strip() == hello_worlds(service)["python"].strip()
    expect(page.locator("#editor .cm-lineNumbers")).to_be_visible()


@pytest.mark.parametrize("language", ["python", "cpp", "javascript"])
def test_each_language_loads_and_runs_its_hello_world(page: Page, service: str, language: str) -> None:
    playground = Playground(page).open()
    playground.pick_language(language)
    assert playground.code().strip() == hello_worlds(service)[language].strip()
    playground.run()
    assert playground.verdict() == "ok"
    assert playground.output("stdout") == "Hello, World!\n"
    expect(page.locator("#result")).to_contain_text("exit code 0")
    for figure in ("CPU time", "Wall time", "Peak memory"):
        expect(page.locator("#result .metrics")).to_contain_text(figure)
    expect(page.locator("#run-status")).to_have_text("Finished: OK.")


def test_a_program_reads_stdin_and_args_and_a_screenshot_is_saved(page: Page) -> None:
    playground = Playground(page).open()
    playground.set_code(STDIN_PROGRAM)
    page.get_by_label("Standard input").fill("Ada\n")
    page.get_by_label("Arguments").fill('--greet "two words"')
    # Ctrl+Enter runs from any field, not only from the editor.
    page.get_by_label("Arguments").press("Control+Enter")
    playground.wait_for_result()
    assert playground.verdict() == "ok"
    assert playground.output("stdout") == "Hello, Ada!\nargs: ['--greet', 'two words']\n"
    page.get_by_label("Arguments").blur()  # no focus ring in the picture
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOT)
    assert SCREENSHOT.stat().st_size > 10_000


def test_a_busy_loop_ends_with_time_limit_under_a_limit_set_in_the_form(page: Page) -> None:
    playground = Playground(page).open()
    playground.set_code("while True:\n    pass\n")
    page.get_by_text("Limits", exact=True).click()
    cpu = page.get_by_label("CPU time (s)")
    expect(cpu).to_have_attribute("placeholder", "2")  # the language's default, shown in grey
    cpu.fill("0.5")
    playground.run()
    assert playground.verdict() == "time_limit"
    expect(page.locator("#result [data-verdict]")).to_have_text("Time limit")
    expect(page.locator("#result .message")).to_contain_text("0.5")


def test_compiler_output_and_truncated_output_are_shown(page: Page) -> None:
    playground = Playground(page).open()
    playground.pick_language("cpp")
    playground.set_code("int main() { return undefined_name; }\n")
    playground.run()
    assert playground.verdict() == "compile_error"
    assert "undefined_name" in playground.output("compile")
    expect(page.locator("#result .metrics")).to_contain_text("Compiler ended with")

    playground.pick_language("python")
    playground.set_code('print("x" * 100_000)\n')
    page.get_by_text("Limits", exact=True).click()
    page.get_by_label("Output (KiB)").fill("1")
    playground.run()
    assert playground.verdict() == "output_limit"
    expect(page.locator("#result .output-stdout [data-truncated]")).to_have_text("truncated at 1.0 KiB")
    assert len(playground.output("stdout")) == 1024


def test_a_permalink_reopens_the_run_with_its_code_and_result(
    page: Page, browser: Browser, service: str
) -> None:
    playground = Playground(page).open()
    playground.pick_language("javascript")
    code = 'const lines = require("fs").readFileSync(0, "utf8");\nconsole.log(lines.toUpperCase());\n'
    playground.set_code(code)
    page.get_by_label("Standard input").fill("shout\n")
    playground.run()
    run_id = playground.result_id()
    assert run_id is not None
    assert page.url.endswith(f"#run={run_id}")
    link = page.locator("#permalink")
    expect(link).to_have_text(f"{service}/#run={run_id}")

    # A new visitor (fresh storage) opening the link sees the same program and result.
    other = browser.new_context(base_url=service)
    try:
        visitor = other.new_page()
        reopened = Playground(visitor).open(f"/#run={run_id}")
        reopened.wait_for_result()
        expect(visitor.get_by_label("Language", exact=True)).to_have_value("javascript")
        assert reopened.code() == code
        expect(visitor.get_by_label("Standard input")).to_have_value("shout\n")
        assert reopened.output("stdout") == "SHOUT\n\n"
        assert reopened.verdict() == "ok"
    finally:
        other.close()


def test_an_unknown_permalink_says_so(page: Page) -> None:
    Playground(page).open("/#run=00000000-0000-0000-0000-000000000000")
    expect(page.locator("#form-error")).to_contain_text("No run with id")
    expect(page.locator("#run-status")).to_have_text("No such run.")


def test_the_last_code_per_language_is_kept_in_local_storage(page: Page, service: str) -> None:
    playground = Playground(page).open()
    playground.set_code('print("mine")\n')
    playground.pick_language("bash")
    assert playground.code().strip() == hello_worlds(service)["bash"].strip()
    playground.set_code("echo bash-mine\n")
    playground.pick_language("python")
    assert playground.code().strip() == 'print("mine")'
    # After a reload the last language and its code come back.
    page.wait_for_timeout(400)  # saving is debounced
    playground.pick_language("bash")
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(page.get_by_label("Language", exact=True)).to_have_value("bash")
    assert playground.code().strip() == "echo bash-mine"
    page.get_by_role("button", name="Reset to hello world").click()
    assert playground.code().strip() == hello_worlds(service)["bash"].strip()


def test_keyboard_only(page: Page) -> None:
    playground = Playground(page).open()
    # The first Tab reaches the skip link, which takes focus to the content.
    page.keyboard.press("Tab")
    expect(page.locator("#skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    # Then the form, in reading order.
    page.keyboard.press("Tab")
    expect(page.get_by_label("Language", exact=True)).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Reset to hello world")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#run-button")).to_be_focused()
    page.keyboard.press("Tab")
    expect(playground.editor).to_be_focused()
    # Tab indents inside the editor...
    page.keyboard.press("Control+End")
    page.keyboard.press("Tab")
    expect(playground.editor).to_be_focused()
    assert playground.code().endswith("    ")
    # ...Escape then Tab leaves it, to the next field.
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Standard input")).to_be_focused()
    # Ctrl+Enter in the editor runs the program.
    playground.editor.focus()
    previous = playground.result_id()
    page.keyboard.press("Control+Enter")
    playground.wait_for_result(previous)
    assert playground.output("stdout") == "Hello, World!\n"


def test_a_phone_sized_screen(page: Page) -> None:
    page.set_viewport_size({"width": 375, "height": 740})
    playground = Playground(page).open()
    playground.run()
    assert playground.verdict() == "ok"
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "the page scrolls sideways on a phone"
    editor = page.locator("#editor").bounding_box()
    result = page.locator("#result-panel").bounding_box()
    assert editor is not None and result is not None
    assert result["y"] > editor["y"], "on a phone the result comes below the editor"
    assert editor["width"] > 300


def test_a_request_the_server_refuses_is_explained(page: Page) -> None:
    playground = Playground(page).open()
    page.get_by_text("Limits", exact=True).click()
    page.get_by_label("Memory (MiB)").fill("999999")
    page.locator("#run-button").click()
    error = playground.error()
    expect(error).to_be_visible()
    expect(error).to_contain_text("refused")
    expect(error).to_contain_text("memory_limit_mb")
    expect(error).to_contain_text("maximum")
    # A mistake the page can see itself is explained without asking the server.
    page.get_by_label("Memory (MiB)").fill("")
    page.get_by_label("Arguments").fill('"unclosed')
    page.locator("#run-button").click()
    expect(error).to_contain_text("double quote is not closed")


@pytest.mark.parametrize(
    ("status", "detail", "lead"),
    [
        (429, "Rate limit reached for this token.", "Too many runs for now."),
        (503, "The queue is full (10000 runs waiting); try again in 5 s.", "The server is busy."),
    ],
)
def test_busy_and_rate_limited_answers_show_when_to_retry(
    page: Page, status: int, detail: str, lead: str
) -> None:
    # The server's own 429 and 503 are tested in tests/integration/service; here, how the page
    # shows them (the answer is substituted in the browser).
    page.route(
        "**/v1/runs?wait=true",
        lambda route: route.fulfill(
            status=status, headers={"Retry-After": "5"}, json={"detail": detail, "errors": []}
        ),
    )
    playground = Playground(page).open()
    page.locator("#run-button").click()
    error = playground.error()
    expect(error).to_contain_text(lead)
    expect(error).to_contain_text(detail)
    expect(error).to_contain_text("Try again in 5 seconds")
    expect(page.locator("#run-button")).to_be_enabled()
