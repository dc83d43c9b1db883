"""The tour in a real browser: each example runs in the real sandbox and shows what it claims."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.integration.browser.playground_page import RUN_TIMEOUT_MS, Playground

pytestmark = [pytest.mark.browser, pytest.mark.root, pytest.mark.images, pytest.mark.redis, pytest.mark.slow]


def open_tour(page: Page) -> None:
    page.goto("/#tour")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.get_by_role("heading", name="A tour of the container")).to_be_visible()


def run_step(page: Page, example: str, step: int = 0) -> Locator:
    card = page.locator(f"[data-example={example}]")
    card.locator(f"button[data-step='{step}']").click()
    result = card.locator(".tour-step").nth(step).locator(".tour-result .result-body")
    expect(result).to_be_visible(timeout=RUN_TIMEOUT_MS)
    return result


def stdout(result: Locator) -> str:
    return result.locator("[data-output=stdout]").inner_text()


def test_every_example_has_its_sentence_and_a_link_to_how_it_works(page: Page) -> None:
    open_tour(page)
    cards = page.locator(".tour-card")
    assert cards.count() >= 8
    for index in range(cards.count()):
        card = cards.nth(index)
        expect(card.locator(".explanation")).not_to_be_empty()
        href = card.locator(".mechanism a").get_attribute("href") or ""
        assert href.startswith("#doc=how-it-works&section=")


def test_the_kernel_is_the_hosts(page: Page) -> None:
    open_tour(page)
    result = run_step(page, "kernel")
    assert stdout(result).splitlines()[0] == os.uname().release


def test_only_the_runs_own_processes_and_only_loopback(page: Page) -> None:
    open_tour(page)
    processes = stdout(run_step(page, "processes")).splitlines()[1:]
    pids = [int(line.split()[0]) for line in processes]
    assert 1 in pids and len(pids) < 10, processes
    network = stdout(run_step(page, "network")).splitlines()
    assert network[0] == "jaula"
    interfaces = [line.split(":")[0].strip() for line in network if ":" in line]
    assert interfaces == ["lo"]


def test_the_root_is_the_images_overlay(page: Page) -> None:
    open_tour(page)
    out = stdout(run_step(page, "filesystem"))
    assert "box" in out.split() and "overlay" in out and "lowerdir=" in out


def test_a_file_written_in_one_run_is_gone_in_the_next(page: Page) -> None:
    open_tour(page)
    first = stdout(run_step(page, "ephemeral", 0))
    assert "written at" in first
    second = run_step(page, "ephemeral", 1)
    assert "gone: this run started from the image again" in stdout(second)
    expect(second.locator("[data-output=stderr]")).to_contain_text("No such file")


def test_the_bombs_are_stopped_by_cgroups(page: Page) -> None:
    open_tour(page)
    memory = run_step(page, "memory-bomb")
    expect(memory.locator("[data-verdict]")).to_have_attribute("data-verdict", "memory_limit")
    fork = run_step(page, "fork-bomb")
    alive = int(stdout(fork).rsplit(":", 1)[1])
    assert 10 < alive <= 64 + 4  # about the pids limit (/proc also lists the container's init)
    expect(fork.locator("[data-output=stderr]")).to_contain_text("fork")


def test_no_capabilities_and_no_seccomp(page: Page) -> None:
    open_tour(page)
    out = stdout(run_step(page, "privileges"))
    assert "CapEff:\t0000000000000000" in out
    assert "NoNewPrivs:\t1" in out
    assert "Seccomp:\t0" in out


def test_an_example_opens_in_the_playground(page: Page) -> None:
    open_tour(page)
    page.locator("[data-example=kernel]").get_by_role("button", name="Edit in playground").click()
    playground = Playground(page)
    expect(page.get_by_label("Language", exact=True)).to_have_value("bash")
    expect(playground.editor).to_be_focused()
    assert playground.code().startswith("uname -r")
    playground.run()
    assert playground.output("stdout").splitlines()[0] == os.uname().release
