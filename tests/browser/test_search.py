"""Search in Chromium: Pagefind full text with filters, and exact look-ups by shape."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from generator.site.certificate import CertificateView, parse_certificate
from tests.browser.conftest import DEVICE_CERT, DOC, DOC_V2, ORG_CERT, Site
from tests.repository.gitrepo import sha

DONE = "#search-status[data-state]"


def search(page: Any, site: Site, query: str) -> tuple[str, list[tuple[str, str]]]:
    """Search for ``query``; return the status line and each result's (text, link)."""
    page.goto(f"{site.url}search/index.html?q={quote(query)}")
    page.wait_for_selector(DONE)
    results = []
    for li in page.query_selector_all("#search-results > li"):
        link = li.query_selector("a")
        results.append((li.inner_text(), link.get_attribute("href") if link else ""))
    return page.inner_text("#search-status"), results


def test_finds_a_known_document_by_a_word(site: Site, page: Any) -> None:
    status, results = search(page, site, "zanzibarite")
    assert "found for zanzibarite" in status
    assert any(href.endswith(f"{DOC}/v2/index.html") for _, href in results), results
    assert all(DOC in href for _, href in results)  # the word is in no other page
    assert page.console.errors == []


def test_family_filter_narrows_results(site: Site, page: Any) -> None:
    page.goto(f"{site.url}search/index.html")
    family = page.locator("select[data-filter=family]")
    assert "documents" in family.inner_text()
    family.select_option("certificates/device")
    page.fill("#search-q", "certificate")
    page.press("#search-q", "Enter")
    page.wait_for_selector(DONE)
    links = [a.get_attribute("href") for a in page.query_selector_all("#search-results a")]
    assert links and all("items/certificates/device/" in href for href in links), links


def test_exact_sha256_leads_to_the_version(site: Site, page: Any) -> None:
    status, results = search(page, site, sha(DOC_V2))
    assert status.startswith("1 exact match")
    text, href = results[0]
    assert "Exact match: SHA-256" in text
    assert href.endswith(f"{DOC}/v2/index.html")


def test_unknown_sha256_is_said_to_be_absent(site: Site, page: Any) -> None:
    _, results = search(page, site, "0" * 64)
    assert results[0][0].startswith(f"No logged file has SHA-256 {'0' * 64}.")


def test_exact_eui64_and_serial_and_entry(site: Site, page: Any) -> None:
    _, results = search(page, site, "00-DB-12-34-56-78-90-01")
    assert "Exact match: EUI-64" in results[0][0]
    assert results[0][1].endswith(f"{DEVICE_CERT}/v1/index.html")
    view = parse_certificate(site.files[ORG_CERT])
    assert isinstance(view, CertificateView)
    serial = ":".join(view.serial[i : i + 2] for i in range(0, len(view.serial), 2)).lower()
    _, results = search(page, site, serial)  # as a viewer prints it: 01:a2:…
    assert "Exact match: serial number" in results[0][0]
    assert results[0][1].endswith(f"{ORG_CERT}/v1/index.html")
    _, results = search(page, site, "0")
    assert "Exact match: log entry 0" in results[0][0]
    assert results[0][1].endswith("log/entry/0/index.html")
