"""Every page in Chromium: no console errors or CSP violations, accessible in both
themes, a working theme toggle, and readable with JavaScript off."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import DOC, ORG_CERT, Site
from tests.browser.pages import first_page, version_url

PAGES = ("home", "document", "certificate", "approval", "log", "search")


def url_of(site: Site, name: str) -> str:
    """The URL of one page of each kind."""
    if name == "document":
        return version_url(site, DOC, 2)
    if name == "certificate":
        return version_url(site, ORG_CERT, 1)
    pattern = {"approval": "approvals/*/index.html", "log": "log/index.html",
               "search": "search/index.html"}.get(name, "index.html")  # fmt: skip
    return first_page(site, pattern)


@pytest.mark.parametrize("name", PAGES)
def test_no_console_errors_or_csp_violations(site: Site, page: Any, name: str) -> None:
    response = page.goto(url_of(site, name))
    assert response is not None and response.ok
    assert response.headers.get("content-security-policy"), "the page is served without a CSP"
    page.wait_for_load_state("networkidle")
    assert page.console.errors == []


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("name", ["home", "document", "certificate", "approval", "log"])
def test_no_serious_accessibility_violations(
    site: Site, context: Any, name: str, theme: str
) -> None:
    page = context.new_page()
    page.emulate_media(color_scheme=theme)
    page.goto(url_of(site, name))
    assert page.get_attribute("html", "data-theme") == theme
    assert serious_violations(page) == []


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on ``page``, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:5]}"
        for v in Axe().run(page).response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_theme_toggle_cycles_and_is_remembered(site: Site, page: Any) -> None:
    from playwright.sync_api import expect

    page.emulate_media(color_scheme="dark")
    page.goto(site.url)
    html, toggle = page.locator("html"), page.locator("#theme-toggle")
    expect(html).to_have_attribute("data-theme", "dark")  # the system's choice
    expect(html).to_have_attribute("data-theme-choice", "system")
    expect(toggle).to_have_text("Theme: system (dark)")
    toggle.click()
    expect(html).to_have_attribute("data-theme", "light")
    expect(toggle).to_have_text("Theme: light")
    page.reload()  # remembered
    expect(html).to_have_attribute("data-theme", "light")
    toggle.click()
    expect(html).to_have_attribute("data-theme", "dark")
    expect(html).to_have_attribute("data-theme-choice", "dark")
    toggle.click()
    expect(html).to_have_attribute("data-theme-choice", "system")
    page.emulate_media(color_scheme="light")  # back to following the system
    expect(html).to_have_attribute("data-theme", "light")
    assert page.console.errors == []


def test_readable_without_javascript(site: Site, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(version_url(site, DOC, 2))
        text = page.inner_text("body")
        assert "applications take five working days" in text  # the document itself
        assert "Verify from the command line" in text
        assert "sha256sum FILE" in text
        assert "smki verify FILE" in text
        assert not page.locator("#verify-form").is_visible()  # needs JavaScript
        page.goto(site.url)
        assert page.inner_text("body").strip()
    finally:
        context.close()
