"""How it works, inside the playground: rendered from docs/ at build time, linked both ways."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_how_it_works_is_linked_from_the_playground_and_links_on(page: Page) -> None:
    page.goto("/")
    page.wait_for_selector("body[data-ready=true]")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="How it works").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("How it works: what a container is")
    expect(heading).to_be_focused()
    expect(page).to_have_title("How it works: what a container is · jaula")
    for section in ("Containers and virtual machines", "Namespaces", "cgroups", "Union filesystems",
                    "Images and containers", "Orchestration"):  # fmt: skip
        expect(page.get_by_role("heading", name=section, exact=True)).to_be_visible()
    # A link to another doc opens it in the page, at the right section.
    page.locator("#doc a[href='#doc=sandbox&section=cgroup-v1-and-v2']").first.click()
    expect(page.get_by_role("heading", name="cgroup v1 and v2")).to_be_focused()
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("How it works: what a container is")


def test_a_tour_example_links_to_its_section(page: Page) -> None:
    page.goto("/#tour")
    page.wait_for_selector("body[data-ready=true]")
    page.locator("[data-example=memory-bomb] .mechanism a").click()
    expect(page.get_by_role("heading", name="cgroups", exact=True)).to_be_focused()


@pytest.mark.parametrize("name", ["no-such-page", "constructor", "__proto__"])
def test_an_unknown_page_says_so(page: Page, name: str) -> None:
    # "constructor" once found the object's own constructor and showed "undefined".
    page.goto(f"/#doc={name}")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.get_by_role("heading", level=1)).to_have_text("No such page")
    expect(page.locator("#doc")).to_contain_text(f"There is no page called “{name}”")
