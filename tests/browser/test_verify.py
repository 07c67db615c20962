"""'Verify this file' in Chromium: a genuine file verifies; tampering fails, in words."""

from __future__ import annotations

from typing import Any

from generator.tlog.note import generate_signer
from tests.browser.conftest import DOC, DOC_V1, DOC_V2, ORG_CERT, ORIGIN, Site
from tests.browser.pages import version_url
from tests.repository.gitrepo import sha

DONE = "#verify-result[data-state=verified], #verify-result[data-state=failed]"


def verify(page: Any, url: str, data: bytes, key: str = "") -> tuple[str, str]:
    """Open ``url``, verify ``data`` (pasting ``key``); return (state, the result's text)."""
    page.goto(url)
    if key:
        page.fill("#verify-key", key)
    page.set_input_files(
        "#verify-file", files=[{"name": "held.bin", "mimeType": "application/octet-stream",
                                "buffer": data}]
    )
    result = page.wait_for_selector(DONE)
    return result.get_attribute("data-state"), result.inner_text()


def test_genuine_file_verifies(site: Site, page: Any) -> None:
    url = version_url(site, DOC, 2)
    state, text = verify(page, url, DOC_V2)
    assert state == "verified", text
    assert f"This file is version 2 of {DOC}, entry " in text
    assert "included in the checkpoint of size " in text
    assert f"signed by the key published at log/vkey {site.key.verifier().vkey}" in text
    assert "(6) The inclusion proof verifies against the checkpoint root" in text
    assert page.console.errors == []


def test_certificate_in_a_full_tile_verifies_with_the_pasted_key(site: Site, page: Any) -> None:
    vkey = site.key.verifier().vkey
    state, text = verify(page, version_url(site, ORG_CERT, 1), site.files[ORG_CERT], vkey)
    assert state == "verified", text
    assert f"This file is version 1 of {ORG_CERT}" in text
    assert f"signed by the key published at log/vkey, {vkey}" in text
    assert f"signed by the pasted key, {vkey}" in text
    assert page.console.errors == []


def test_an_older_version_held_on_the_current_page_is_named(site: Site, page: Any) -> None:
    state, text = verify(page, version_url(site, DOC, 2), DOC_V1)
    assert state == "verified", text
    assert f"This file is {DOC}, entry " in text
    assert "It is not the version shown on this page." in text


def test_one_byte_change_fails_in_words(site: Site, page: Any) -> None:
    changed = bytearray(DOC_V2)
    changed[3] ^= 0x20
    state, text = verify(page, version_url(site, DOC, 2), bytes(changed))
    assert state == "failed"
    assert text.startswith(f"Not verified: the file's SHA-256 is {sha(bytes(changed))}, "
                           "which is not in the log.")


def test_without_a_lookup_index_the_page_entry_is_checked(unindexed_site: Site, page: Any) -> None:
    url = version_url(unindexed_site, DOC, 2)
    state, text = verify(page, url, DOC_V2)
    assert state == "verified", text
    assert "(2) The site has no lookup index, so this checks the entry of this page" in text
    state, text = verify(page, url, DOC_V1)
    assert state == "failed"
    assert f"the file's SHA-256 is {sha(DOC_V1)}, but entry " in text
    assert f"records {sha(DOC_V2)}" in text


def test_a_mirror_opened_from_disk_offers_the_command_line(site: Site, page: Any) -> None:
    page.goto((site.root / DOC / "v2" / "index.html").as_uri())
    assert not page.locator("#verify-form").is_visible()  # a file:// page may not fetch
    assert page.get_by_text("Verify from the command line").is_visible()


def test_tampered_tile_fails_and_is_named(tampered_site: Site, page: Any) -> None:
    url = version_url(tampered_site, ORG_CERT, 1)
    state, text = verify(page, url, tampered_site.files[ORG_CERT])
    assert state == "failed"
    assert "Not verified: tile log/tile/0/000 does not match its hash in log/tile/1/000.p/1" in text


def test_wrong_pasted_key_fails_and_each_key_is_reported(site: Site, page: Any) -> None:
    other = generate_signer(ORIGIN).verifier().vkey  # a valid key of the same name
    state, text = verify(page, version_url(site, DOC, 2), DOC_V2, other)
    assert state == "failed"
    assert "(3) The checkpoint (tree size " in text
    assert f"is signed by the key published at log/vkey, {site.key.verifier().vkey}" in text
    assert f"the checkpoint signature does not verify with the pasted key {other}" in text


def test_malformed_pasted_key_is_refused(site: Site, page: Any) -> None:
    state, text = verify(page, version_url(site, DOC, 2), DOC_V2, "not a key")
    assert state == "failed"
    assert "the pasted key is not a verifier key" in text
