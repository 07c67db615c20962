"""The sample repository's site in Chromium: its richest pages, and a real file verified."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import SAMPLE, Site
from tests.browser.pages import first_page, version_url
from tests.browser.test_pages import serious_violations
from tests.browser.test_verify import verify

CRL = "items/crls/organisation-crl-0002.pem"
PAGES = {
    "incidents": "incidents/index.html",
    "ratification": "approvals/PMA-2019-052/index.html",
    "device certificate": "items/certificates/device/*/v1/index.html",
    "CRL": f"{CRL}/v1/index.html",
    "policy": "policy/index.html",
}


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("name", sorted(PAGES))
def test_sample_pages_are_clean_and_accessible(
    sample_site: Site, page: Any, name: str, theme: str
) -> None:
    page.emulate_media(color_scheme=theme)
    page.goto(first_page(sample_site, PAGES[name]))
    assert serious_violations(page) == []
    assert page.console.errors == []


def test_a_sample_crl_verifies(sample_site: Site, page: Any) -> None:
    state, text = verify(page, version_url(sample_site, CRL, 1), (SAMPLE / CRL).read_bytes())
    assert state == "verified", text
    assert f"This file is version 1 of {CRL}, entry " in text
