"""The playground as the tests drive it: by labels, roles and ids a user (or screen reader) meets."""

from __future__ import annotations

from dataclasses import dataclass

from playwright.sync_api import Locator, Page

RUN_TIMEOUT_MS = 60_000


@dataclass
class Playground:
    page: Page

    def open(self, path: str = "/") -> Playground:
        self.page.goto(path)
        self.page.wait_for_selector("body[data-ready=true]")
        return self

    @property
    def editor(self) -> Locator:
        return self.page.locator("#editor .cm-content")

    def code(self) -> str:
        """The editor's text, from its rendered lines (all of them, for programs this short)."""
        lines = self.page.locator("#editor .cm-line").all_inner_texts()
        return "\n".join(line.removesuffix("\n") for line in lines)

    def pick_language(self, name: str) -> None:
        self.page.get_by_label("Language", exact=True).select_option(name)

    def set_code(self, code: str) -> None:
        """Replace the code as a paste would (typing would trigger auto-indent and auto-close)."""
        self.editor.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.press("Delete")
        self.page.keyboard.insert_text(code)

    def run(self) -> Locator:
        """Click Run and wait for the result; returns the result's element."""
        previous = self.result_id()
        self.page.get_by_role("button", name="Run", exact=False).first.click()
        return self.wait_for_result(previous)

    def result_id(self) -> str | None:
        body = self.page.locator("#result .result-body")
        return body.get_attribute("data-run-id") if body.count() else None

    def wait_for_result(self, previous: str | None = None) -> Locator:
        self.page.wait_for_function(
            """previous => {
                const body = document.querySelector('#result .result-body');
                return body && body.dataset.runId !== previous
                    && document.querySelector('#run-button').disabled === false;
            }""",
            arg=previous,
            timeout=RUN_TIMEOUT_MS,
        )
        return self.page.locator("#result .result-body")

    def verdict(self) -> str | None:
        return self.page.locator("#result [data-verdict]").get_attribute("data-verdict")

    def output(self, name: str = "stdout") -> str:
        return self.page.locator(f"#result [data-output={name}]").inner_text()

    def error(self) -> Locator:
        return self.page.locator("#form-error")
