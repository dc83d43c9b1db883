"""The playground under its own Content-Security-Policy (no bypass, unlike the other tests): it
loads, runs a program and shows every view without the browser refusing anything."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, ConsoleMessage, expect

from tests.integration.browser.conftest import open_playground


def test_the_playground_works_within_its_content_security_policy(browser: Browser, service: str) -> None:
    headers = httpx.get(service + "/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    context = browser.new_context(base_url=service)
    try:
        page = context.new_page()
        refused: list[str] = []
        errors: list[str] = []
        page.on("console", lambda m: _refusal(m, refused))
        page.on("pageerror", lambda e: errors.append(str(e)))
        open_playground(page)
        page.get_by_role("button", name="Run", exact=False).first.click()
        expect(page.locator("#result [data-verdict]")).to_have_attribute("data-verdict", "ok", timeout=60_000)
        for view in ("Tour", "Grading", "How it works", "Playground"):
            page.get_by_role("navigation", name="Main").get_by_role("link", name=view).click()
            expect(page.locator("main .view:visible").first).to_be_visible()
        assert not refused, f"the page broke its own Content-Security-Policy: {refused}"
        assert not errors, errors
    finally:
        context.close()


def _refusal(message: ConsoleMessage, refused: list[str]) -> None:
    if "Content Security Policy" in message.text:
        refused.append(message.text)
