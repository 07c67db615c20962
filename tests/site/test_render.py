"""The built site: every page of the URL scheme, what each shows, and the build's rules.

Most tests read the session's sample site (tests/site/sitebuild.py); tests that
need another repository build their own, small one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import jinja2
import pytest
from click.testing import CliRunner
from markupsafe import Markup, escape

from generator.cli import main
from generator.errors import ContentError, GovernanceError
from generator.repository.authorisation import Change
from generator.serve import headers_for, parse_headers_file
from generator.site import feeds, output, render
from generator.site.output import LazyJson, OutputWriter, SiteCache, _read_facts
from generator.site.render import render_site
from generator.tlog.proof import parse_proof, verify_proof
from generator.tlog.reader import LogReader
from generator.tlog.store import DirStore
from tests.repository.gitrepo import ContentRepo, sha
from tests.site.sitebuild import (
    ANNEX,
    BROKEN,
    CRL2,
    GLOSSARY,
    SCOPE,
    SIGNERS,
    BuiltSite,
    build_site,
    log_key_file,
    parse_html,
    publish_log,
    sample_repository,
)

WAN_DS = "items/certificates/organisation/wanprovider-90b3d51f30060001-ds.pem"
WAN_KA = "items/certificates/organisation/wanprovider-90b3d51f30060001-ka.pem"
SUPPLIER_DS = "items/certificates/organisation/supplier-90b3d51f30010001-ds.pem"
DEVICE_DS = "items/certificates/device/00db12345678a001-ds.pem"
ISSUING_OCA = "items/certificates/ca/issuing-oca.pem"
ROOT_OCA = "items/certificates/ca/root-oca.pem"


def main_text(site: BuiltSite, path: str) -> str:
    """The visible text of a page's main landmark, white space collapsed."""
    html = site.text(path)
    body = html[html.index("<main") : html.index("</main>")]
    return parse_html(body).words


# -- the URL scheme --------------------------------------------------------------------



def amend_approved(repo: ContentRepo, path: str, text: str, message: str) -> bytes:
    """Amend ``path`` to ``text`` under PMA approval PMA-1, in one commit; the new bytes."""
    old = repo.read(path)
    new = repo.write(path, text)
    repo.approval("PMA-1", [Change("amend", path, sha(old), sha(new))], SIGNERS)
    repo.commit(message)
    return new

def test_every_kind_of_page_is_written(sample_site: BuiltSite) -> None:
    files = set(sample_site.site_files())
    expected = {
        "index.html", "404.html", "feed.xml", "sitemap.xml", "robots.txt", "_headers",
        "items/index.html", "items/documents/index.html", "items/crls/index.html",
        "items/certificates/ca/index.html", "items/certificates/organisation/index.html",
        "items/certificates/device/index.html",
        f"{SCOPE}/index.html", f"{SCOPE}/v1/index.html", f"{SCOPE}/v2/index.html",
        f"{SCOPE}/v1/index.json", f"{SCOPE}/v2/proof.tlog-proof",
        f"{WAN_DS}/v1/index.html", f"{WAN_DS}/v1/certificate.der",
        f"{CRL2}/v1/crl.der",
        "approvals/index.html", "approvals/PMA-T-001/index.html",
        "approvals/PMA-T-004/index.html", "lodgements/index.html",
        "lodgements/LDG-T-0001/index.html", "incidents/index.html", "policy/index.html",
        "log/index.html", "log/entries/index.html", "log/entries/page/1/index.html",
        "log/entry/0/index.html", "static/style.css",
    }  # fmt: skip
    assert expected <= files
    assert not any(f.startswith(("log/tile/", "objects/")) or f in ("log/checkpoint", "log/vkey")
                   for f in files)  # fmt: skip


def test_pages_follow_the_house_rules(sample_site: BuiltSite) -> None:
    """CSP, SRI on every script and style sheet, landmarks, one h1, skip link, no inline code."""
    out = sample_site.out
    for path in sample_site.html_pages():
        page = parse_html(sample_site.text(path))
        where = f"{path}"
        assert page.all("html")[0].get("lang") == "en", where
        csp = [t for t in page.all("meta") if t.get("http-equiv") == "Content-Security-Policy"]
        assert [t.get("content") for t in csp] == [feeds.CSP], where
        for tag in page.tags:
            assert not tag.has("style"), f"{where}:{tag.line}: style attribute"
            assert not any(k.startswith("on") for k, _ in tag.attrs), f"{where}:{tag.line}"
        assert page.scripts.strip() == "", f"{where}: inline script"
        assert page.all("style") == [], where
        resources = [(t, t.get("src")) for t in page.all("script")] + [
            (t, t.get("href")) for t in page.all("link") if t.get("rel") == "stylesheet"
        ]
        assert resources, where
        for tag, url in resources:
            assert url is not None, f"{where}:{tag.line}: inline resource"
            file = out / url.removeprefix("/test-log/") if url.startswith("/") else (
                (out / path).parent / url
            )
            digest = base64.b64encode(hashlib.sha384(file.resolve().read_bytes()).digest())
            assert tag.get("integrity") == f"sha384-{digest.decode()}", f"{where}: {url}"
        for landmark in ("header", "nav", "main", "footer"):
            assert page.all(landmark), f"{where}: no <{landmark}>"
        assert len(page.all("h1")) == 1, where
        first_link = page.all("a")[0]
        assert (first_link.get("href"), first_link.get("class")) == ("#main", "skip"), where
        main = page.all("main")[0]
        assert main.get("id") == "main" and main.has("data-pagefind-body"), where
        assert (main.get("data-pagefind-meta") or "").startswith("family:"), where
        theme = [t for t in page.all("button") if t.get("id") == "theme-toggle"]
        assert len(theme) == 1 and theme[0].get("type") == "button", where


# -- items and versions ------------------------------------------------------------------


def test_a_version_has_its_facts_proof_and_verify_section(sample_site: BuiltSite) -> None:
    facts = json.loads(sample_site.text(f"{SCOPE}/v2/index.json"))
    record = json.loads(sample_site.text(f"{SCOPE}/v1/index.json"))
    assert (facts["version"], facts["versions"], facts["status"]) == (2, 2, "current")
    assert record["status"] == "superseded"
    assert facts["authorisation"]["id"] == "PMA-T-001" and facts["action"] == "amend"
    data = (sample_site.out / facts["object"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == facts["sha256"] and len(data) == facts["size"]
    proof = (sample_site.out / facts["proof"]).read_bytes()
    entry = parse_proof(proof).extra
    assert entry is not None and json.loads(entry) == facts["entry"]
    index, checkpoint = verify_proof(proof, sample_site.inputs.verifier, entry=entry)
    assert index == facts["index"]
    # Pinned to the end of the entry's commit, a tree the published one extends.
    entries = sample_site.inputs.replay.entries
    commit = entries[index].commit
    end = next((i for i in range(index, len(entries)) if entries[i].commit != commit), len(entries))
    assert checkpoint.checkpoint.size == end < len(entries)
    reader = LogReader(DirStore(sample_site.out / "log"), sample_site.inputs.verifier)
    assert reader.root_hash(end) == checkpoint.checkpoint.root_hash
    page = parse_html(sample_site.text(f"{SCOPE}/v2/index.html"))
    form = [t for t in page.all("form") if t.get("id") == "verify-form"]
    assert form and form[0].get("data-sha256") == facts["sha256"]
    assert form[0].get("data-entry") == str(facts["index"])
    assert form[0].get("data-root") == "../../../../"


def test_offline_verification_with_the_cli_uses_only_the_proof(sample_site: BuiltSite) -> None:
    facts = json.loads(sample_site.text(f"{SCOPE}/v2/index.json"))
    result = CliRunner().invoke(main, [
        "verify", str(sample_site.out / facts["object"]),
        "--proof", str(sample_site.out / facts["proof"]),
        "--key", sample_site.inputs.verifier.vkey,
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert SCOPE in result.output


def test_a_document_is_rendered_with_its_links_and_a_diff(sample_site: BuiltSite) -> None:
    html = sample_site.text(f"{SCOPE}/v2/index.html")
    up = "../../../../"  # from items/documents/scope.md/v2/ to the site root
    assert f'href="{up}items/documents/glossary.md/index.html#doc-terms"' in html
    assert f'href="{up}items/crls/organisation-crl-0001.pem/index.html"' in html
    assert '<a href="https://smartenergycodecompany.co.uk/" rel="noopener noreferrer">' in html
    assert '<th class="align-left">Family</th>' in html and "align-right" in html
    assert '<span class="diff-add">+| CRLs | DCC |</span>' in html
    assert "Changes from" in main_text(sample_site, f"{SCOPE}/v2/index.html")
    assert "glossary.md/index.html#doc-terms" in sample_site.text(f"{SCOPE}/index.html")
    assert 'id="doc-terms"' in sample_site.text(f"{GLOSSARY}/index.html")


def test_a_withdrawn_item_stays_with_its_history(sample_site: BuiltSite) -> None:
    text = main_text(sample_site, f"{ANNEX}/index.html")
    assert "Withdrawn." in text and "approval PMA-T-002" in text
    assert "opaque file" in text
    assert json.loads(sample_site.text(f"{ANNEX}/v1/index.json"))["status"] == "withdrawn"


def test_an_incident_is_shown_not_hidden(sample_site: BuiltSite) -> None:
    text = main_text(sample_site, "incidents/index.html")
    assert "Modify of items/documents/glossary.md" in text
    assert "amend without authorisation" in text and "approval PMA-T-003" in text
    v2 = main_text(sample_site, f"{GLOSSARY}/v2/index.html")
    assert "an unauthorised change, recorded as an incident, ratified by approval PMA-T-003" in v2
    assert "1 change was made without authorisation" in main_text(sample_site, "index.html")


# -- certificates and CRLs -------------------------------------------------------------------


def test_certificate_pages_show_the_smki_facts(sample_site: BuiltSite) -> None:
    text = main_text(sample_site, f"{SUPPLIER_DS}/v1/index.html")
    assert ("Organisation Certificate — Supplier (02), EUI 90-B3-D5-1F-30-01-00-01, "
            "Digital Signature") in text  # fmt: skip
    assert "Remote Party Role supplier (02)" in text
    assert "Certificate policy 1.2.826.0.1.8641679.1.2.1.4" in text
    assert "issued by CA Certificate — Issuing Authority (07), CN S1 (signature verified)" in text
    html = sample_site.text(f"{SUPPLIER_DS}/v1/index.html")
    up = "../../../../../"
    assert f'href="{up}{ISSUING_OCA}/v1/index.html">CA Certificate' in html
    chain = [t.get("href") for t in parse_html(html[html.index('class="chain"'):]).all("a")][:2]
    assert chain == [f"{up}{ISSUING_OCA}/v1/index.html", f"{up}{ROOT_OCA}/v1/index.html"]
    assert "Key Agreement certificate of the same party" in text
    assert "supplier-90b3d51f30010001-ka.pem/index.html" in html
    assert "Profile check (GBCS §12)" in text and "Not listed by any logged CRL" in text


def test_a_device_certificate_has_no_well_defined_expiry(sample_site: BuiltSite) -> None:
    text = main_text(sample_site, f"{DEVICE_DS}/v1/index.html")
    assert "Device Certificate — EUI 00-DB-12-34-56-78-A0-01, Digital Signature" in text
    assert "Valid until no well-defined expiry (99991231235959Z)" in text
    assert "Device EUI-64 00-DB-12-34-56-78-A0-01" in text
    assert "9999-12-31" not in text


def test_a_revoked_certificate_and_its_crl_link_to_each_other(sample_site: BuiltSite) -> None:
    cert = main_text(sample_site, f"{WAN_DS}/v1/index.html")
    assert "Revoked on 2025-03-03T08:30:00Z (keyCompromise)" in cert
    assert "organisation-crl-0002.pem/v1/index.html" in sample_site.text(f"{WAN_DS}/v1/index.html")
    assert "revoked on" in main_text(sample_site, f"{WAN_DS}/index.html")
    crl = sample_site.text(f"{CRL2}/v1/index.html")
    assert "wanprovider-90b3d51f30060001-ds.pem/v1/index.html" in crl
    assert "signed by CA Certificate — Issuing Authority (07), CN S1" in main_text(
        sample_site, f"{CRL2}/v1/index.html"
    )
    assert "Revoked on" not in main_text(sample_site, f"{WAN_KA}/v1/index.html")


def test_a_root_is_self_signed_and_ends_the_chain(sample_site: BuiltSite) -> None:
    text = main_text(sample_site, f"{ROOT_OCA}/v1/index.html")
    assert "self-signed (signature verified)" in text


def test_malformed_der_gets_an_unparseable_panel(sample_site: BuiltSite) -> None:
    for path in (f"{BROKEN}/v1/index.html", f"{BROKEN}/index.html"):
        text = main_text(sample_site, path)
        assert "Unparseable certificate" in text and "cannot be read as an X.509" in text
    assert not (sample_site.out / BROKEN / "v1" / "certificate.pem").exists()
    assert json.loads(sample_site.text(f"{BROKEN}/v1/index.json"))["certificate"] is None


def test_converted_downloads_are_the_same_certificate(sample_site: BuiltSite) -> None:
    from generator.site.certificate import parse_certificate

    logged = (sample_site.out / "objects").glob("*")
    der = (sample_site.out / WAN_DS / "v1" / "certificate.der").read_bytes()
    view = parse_certificate(der)
    assert not hasattr(view, "reason")
    assert any(parse_certificate(p.read_bytes()) == view for p in logged)


def test_the_real_smki_test_certificates_render(samples: Path, tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "content")
    repo.policy(signers=SIGNERS, pma_lodge=())
    names = sorted(p.name for p in samples.glob("*.pem"))
    paths = [("items/certificates/ca/" if n.startswith("ca-") else
              "items/certificates/device/" if n.startswith("device-") else
              "items/certificates/organisation/") + n for n in names]  # fmt: skip
    for name, path in zip(names, paths, strict=True):
        repo.write(path, (samples / name).read_bytes())
    repo.lodgement("LDG-REAL", paths)
    repo.commit("the public SMKI test certificates")
    site = build_site(repo.path, tmp_path)
    supplier = main_text(site, "items/certificates/organisation/"
                               "org-supplier-90b3d51f30010000-ds.pem/v1/index.html")  # fmt: skip
    assert ("Organisation Certificate — Supplier (02), EUI 90-B3-D5-1F-30-01-00-00, "
            "Digital Signature") in supplier  # fmt: skip
    assert "Serial number 4FBC525201A1D7586C1BC1C4734DEB9F" in supplier
    assert "issued by CA Certificate — Issuing Authority (07), CN Z1" in supplier
    device = main_text(site, "items/certificates/device/"
                             "device-00db123456789001-ka.pem/v1/index.html")  # fmt: skip
    assert "Device Certificate — EUI 00-DB-12-34-56-78-90-01, Key Agreement" in device
    assert "no well-defined expiry" in device
    assert "the issuer is not in the repository" in device
    listing = main_text(site, "items/certificates/organisation/index.html")
    assert "Network Operator (03), EUI 90-B3-D5-1F-30-02-00-00, Key Agreement" in listing


# -- approvals, policy, log ---------------------------------------------------------------------


def test_an_approval_shows_its_changes_and_signatures(sample_site: BuiltSite) -> None:
    text = main_text(sample_site, "approvals/PMA-T-001/index.html")
    assert "Decision approved" in text and "Legal basis SEC L5.6A" in text
    assert "PMA signatures 2 valid, 2 needed" in text
    assert "amend items/documents/scope.md version 1" in text and "version 2" in text
    assert text.count(" valid ") >= 2 and "pma-chair" in text and "pma-member-c" in text
    assert "Ed25519" in text
    rejected = main_text(sample_site, "approvals/PMA-T-004/index.html")
    assert "Decision rejected" in rejected and "not used" in rejected
    assert "PMA-T-004" in main_text(sample_site, "approvals/index.html")


def test_the_policy_page_lists_keys_and_threshold(sample_site: BuiltSite) -> None:
    text = main_text(sample_site, "policy/index.html")
    assert "Threshold 2 of 3 PMA keys" in text
    assert "smki-pma.example/member-b" in text and "ECDSA P-256" in text
    assert "dcc.example/registration-authority" in text


def test_the_log_page_shows_the_checkpoint_verbatim(sample_site: BuiltSite) -> None:
    checkpoint = (sample_site.out / "log/checkpoint").read_text()
    page = parse_html(sample_site.text("log/index.html"))
    assert checkpoint in page.text
    assert sample_site.inputs.verifier.vkey in page.text
    size = int(checkpoint.split("\n")[1])
    entries = main_text(sample_site, "log/entries/index.html")
    assert entries.index(f"entry {size - 1}") < entries.index("entry 0 ")
    entry = sample_site.text("log/entry/0/index.html")
    assert '"type": "policy"' in parse_html(entry).text


def test_feed_sitemap_robots_and_headers(sample_site: BuiltSite) -> None:
    atom = "{http://www.w3.org/2005/Atom}"
    feed = ET.fromstring(sample_site.text("feed.xml"))
    entries = feed.findall(f"{atom}entry")
    times = [e.findtext(f"{atom}updated") or "" for e in entries]
    assert times == sorted(times, reverse=True) and feed.findtext(f"{atom}updated") == times[0]
    assert entries[0].findtext(f"{atom}id", "").endswith(f"log/entry/{len(entries) - 1}/index.html")
    sitemap = ET.fromstring(sample_site.text("sitemap.xml"))
    locs = [e.text or "" for e in sitemap.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert len(locs) == len(sample_site.html_pages()) - 1  # all but 404.html
    assert "Sitemap: https://smki.example/test-log/sitemap.xml" in sample_site.text("robots.txt")
    rules = parse_headers_file(sample_site.text("_headers"))
    assert headers_for(rules, "/log/checkpoint")["Cache-Control"] == "no-cache"
    assert "immutable" in headers_for(rules, "/log/tile/0/000")["Cache-Control"]
    for mutable in ("/index/sha256/abc", "/evidence/tile/000", "/evidence/consistency/5"):
        assert headers_for(rules, mutable)["Cache-Control"] == "no-cache", mutable
    assert "immutable" in headers_for(rules, "/objects/" + "0" * 64)["Cache-Control"]
    assert headers_for(rules, "/index.html")["Content-Security-Policy"].startswith(feeds.CSP)


def test_the_404_page_links_from_the_site_root(sample_site: BuiltSite) -> None:
    page = parse_html(sample_site.text("404.html"))
    hrefs = [t.get("href") or "" for t in page.all("a") if t.get("href") != "#main"]
    assert hrefs and all(h.startswith("/test-log/") for h in hrefs)


# -- the build's rules ---------------------------------------------------------------------------


def test_a_dangling_link_in_a_current_document_stops_the_build(tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "content")
    repo.genesis({"items/documents/a.md": "# A\n\nSee [the missing one](missing.md).\n"})
    with pytest.raises(ContentError, match=r"items/documents/a\.md/index\.html: the link "
                                           r"'missing\.md' in items/documents/a\.md points at "
                                           r"nothing"):  # fmt: skip
        build_site(repo.path, tmp_path)


def test_a_dangling_link_in_a_superseded_version_is_shown_unlinked(tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "content")
    old = repo.write("items/documents/a.md", "# A\n\nSee [gone](gone.md).\n")
    repo.genesis({"items/documents/a.md": old})
    amend_approved(repo, "items/documents/a.md", "# A\n\nFixed.\n", "fix the link")
    site = build_site(repo.path, tmp_path)
    assert '<a class="dangling" rel="noopener noreferrer">gone</a>' in site.text(
        "items/documents/a.md/v1/index.html"
    )


def test_two_builds_of_one_history_are_byte_identical(
    sample_site: BuiltSite, tmp_path: Path
) -> None:
    repo = sample_repository(tmp_path / "content")
    again = build_site(repo.path, tmp_path)
    assert again.site_files() == sample_site.site_files()
    for path in sample_site.site_files():
        assert (again.out / path).read_bytes() == (sample_site.out / path).read_bytes(), path


def test_a_rebuild_skips_what_is_up_to_date_and_repairs_what_is_not(tmp_path: Path) -> None:
    """Site-wide pages are checked on every build; an item's files are trusted as written
    until the cache is deleted, and then checked and repaired too."""
    repo = ContentRepo(tmp_path / "content")
    repo.genesis({"items/documents/a.md": "# A\n", "items/documents/b.md": "# B\n"})
    site = build_site(repo.path, tmp_path)
    again = render_site(site.inputs, site.out)
    assert (again.written, again.unchanged, again.skipped) == (0, 0, site.report.outputs)
    (site.out / "index.html").write_text("damaged")
    (site.out / "items/documents/a.md/v1/index.html").unlink()
    (site.out / "items/documents/b.md/index.html").write_text("damaged")
    repaired = render_site(site.inputs, site.out)
    assert repaired.written == 1
    assert "damaged" not in site.text("index.html")
    (site.out / ".smki-site-cache.json").unlink()
    checked = render_site(site.inputs, site.out)
    assert checked.written == 2
    assert "damaged" not in site.text("items/documents/b.md/index.html")
    assert (site.out / "items/documents/a.md/v1/index.html").is_file()


def test_an_amendment_rewrites_only_the_pages_it_changes(tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "content")
    files = {f"items/documents/d{n}.md": f"# D{n}\n" for n in range(30)}
    repo.genesis(files)
    first = build_site(repo.path, tmp_path)
    amend_approved(repo, "items/documents/d7.md", "# D7\n\nAmended.\n", "amend d7")
    second = build_site(repo.path, tmp_path)
    assert second.report.outputs > first.report.outputs
    written = second.report.written
    proofs = 31 + 1  # every proof names the new checkpoint (+ d7's new version)
    assert written < proofs + 25, written  # not the 100+ files of the site


def test_each_commit_built_on_the_last_build_is_the_site_built_afresh(tmp_path: Path) -> None:
    """Reusing units (the plan memo) changes nothing: after every commit of the story the
    site built on the previous build's output is the site built from nothing."""
    repo = sample_repository(tmp_path / "content")
    commits = subprocess.run(["git", "-C", str(repo.path), "rev-list", "--reverse", "HEAD"],
                             check=True, capture_output=True, text=True).stdout.split()  # fmt: skip
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(work)], check=True)
    built, refused = 0, []
    for n, commit in enumerate(commits):
        subprocess.run(["git", "-C", str(work), "reset", "-q", "--hard", commit], check=True)
        try:
            inputs = publish_log(work, tmp_path / "inc", tmp_path / "inc-work")
        except GovernanceError:
            refused.append(n)  # the unapproved edit, until its ratification
            continue
        render_site(inputs, tmp_path / "inc")
        fresh = build_site(work, tmp_path / f"fresh-{n}")
        incremental = BuiltSite(tmp_path / "inc", inputs, fresh.report)
        assert incremental.site_files() == fresh.site_files(), commit
        for path in fresh.site_files():
            assert (incremental.out / path).read_bytes() == (fresh.out / path).read_bytes(), path
        built += 1
    assert built >= len(commits) - 1 and len(refused) <= 1


def test_facts_are_appended_and_a_damaged_facts_file_is_rewritten(tmp_path: Path) -> None:
    """The facts file only grows: a rebuild appends what it learnt; a line that does not
    parse (a build killed mid-append) or another fingerprint makes the next build rewrite
    it, and the site comes out the same."""
    repo = ContentRepo(tmp_path / "content")
    repo.genesis({"items/documents/a.md": "# A\n"})
    site = build_site(repo.path, tmp_path)
    facts_file = site.out / ".smki-site-facts.jsonl"
    first = facts_file.read_text()
    assert first.count("\n") == 2 and '"facts"' in first  # the header and document a
    new = amend_approved(repo, "items/documents/a.md", "# A\n\nAmended.\n", "amend a")
    again = build_site(repo.path, tmp_path)
    grown = facts_file.read_text()
    assert grown.startswith(first) and grown.count("\n") == 3 and sha(new) in grown
    page = again.text("items/documents/a.md/index.html")
    cut, foreign = grown + '["facts", "cut sh', grown.replace("smki-site-facts/v1", "other")
    for damage, kept in ((cut, True), (foreign, False)):
        facts_file.write_text(damage)
        render_site(again.inputs, again.out)
        rewritten = facts_file.read_text().splitlines()  # whole: what this build knows
        assert rewritten[0] == first.splitlines()[0]
        # the facts of the other header are dropped; this build, all of whose units are
        # as they were, asked for none, so it learnt none
        assert any(sha(new) in line for line in rewritten[1:]) is kept
        assert not SiteCache.load(again.out, json.loads(rewritten[0])["fingerprint"]).rewrite_facts
        assert again.text("items/documents/a.md/index.html") == page
    (again.out / ".smki-site-cache.json").unlink()  # every unit planned again: facts needed
    render_site(again.inputs, again.out)
    assert sha(new) in facts_file.read_text()
    assert again.text("items/documents/a.md/index.html") == page


def test_facts_are_decoded_when_asked_for_and_a_damaged_one_is_made_again(
    tmp_path: Path,
) -> None:
    """A facts line is split, not parsed, when the journal is read; a value that does not
    decode reads as missing, is made again and gains a line that replaces it."""
    repo = ContentRepo(tmp_path / "content")
    repo.genesis({"items/documents/a.md": "# A\n", "items/documents/b.md": "# B\n"})
    site = build_site(repo.path, tmp_path)
    facts_file = site.out / ".smki-site-facts.jsonl"
    fingerprint = json.loads(facts_file.read_text().splitlines()[0])["fingerprint"]
    cache = SiteCache.load(site.out, fingerprint)
    assert not cache.rewrite_facts and len(cache.facts) == 2
    assert cache.facts.get(sha(b"# A\n"))["facts"]["title"] == "A"
    damaged = facts_file.read_text().replace('"title":"B"', '"title":"B",,')
    facts_file.write_text(damaged)
    cache = SiteCache.load(site.out, fingerprint)
    assert not cache.rewrite_facts  # the line still has the shape of one
    assert cache.facts.get(sha(b"# B\n")) is None and cache.facts.get(sha(b"# A\n")) is not None
    (site.out / ".smki-site-cache.json").unlink()  # every unit planned again: facts needed
    render_site(site.inputs, site.out)
    assert facts_file.read_text().startswith(damaged)  # appended to, not rewritten
    cache = SiteCache.load(site.out, fingerprint)
    assert cache.facts.get(sha(b"# B\n"))["facts"]["title"] == "B"


def test_units_are_appended_and_a_damaged_units_journal_is_rewritten(tmp_path: Path) -> None:
    """A rebuild appends the units it planned again; a damaged journal costs a re-plan of
    what it lost, never a different site."""
    repo = ContentRepo(tmp_path / "content")
    repo.genesis({f"items/documents/d{n}.md": f"# D{n}\n" for n in range(5)})
    build_site(repo.path, tmp_path)
    units_file = tmp_path / "site" / ".smki-site-units.jsonl"
    first = units_file.read_text()
    amend_approved(repo, "items/documents/d3.md", "# D3\n\nAmended.\n", "amend d3")
    site = build_site(repo.path, tmp_path)
    grown = units_file.read_text()
    added = grown.removeprefix(first).splitlines()
    assert grown.startswith(first) and added
    assert {json.loads(line)[0] for line in added} == {
        "item:items/documents/d3.md", "family:documents", "entries:1", "note:approval:PMA-1",
    }  # fmt: skip
    fresh = build_site(repo.path, tmp_path / "fresh")
    expected = {p: (fresh.out / p).read_bytes() for p in fresh.site_files()}
    units_file.write_text(grown[: len(grown) - 40])  # cut short mid-line
    report = render_site(site.inputs, site.out)
    assert report.written == 0  # units re-planned, bytes unchanged
    assert {p: (site.out / p).read_bytes() for p in site.site_files()} == expected
    assert SiteCache.load(site.out, json.loads(first.splitlines()[0])["fingerprint"]
                          ).rewrite_units is False  # fmt: skip


def test_stale_outputs_are_removed(tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "content")
    repo.genesis()
    site = build_site(repo.path, tmp_path)
    cache_file = site.out / ".smki-site-cache.json"
    cache = json.loads(cache_file.read_text())
    cache["outputs"]["old/page/index.html"] = ["x", 1]
    cache_file.write_text(json.dumps(cache))
    (site.out / "old/page").mkdir(parents=True)
    (site.out / "old/page/index.html").write_text("x")
    report = render_site(site.inputs, site.out)
    assert report.removed == 1 and not (site.out / "old").exists()


def test_user_templates_override_the_theme(tmp_path: Path) -> None:
    templates = tmp_path / "theme"
    (templates / "pages").mkdir(parents=True)
    (templates / "static").mkdir()
    (templates / "404.html").write_text(
        '{% extends "base.html" %}{% block title %}Lost{% endblock %}'
        "{% block main %}<h1>Nothing here, sorry</h1>{% endblock %}"
    )
    (templates / "pages" / "about.html").write_text(
        '{% extends "base.html" %}{% block title %}About{% endblock %}'
        '{% block main %}<h1>About this repository</h1><a href="{{ href(LOG) }}">log</a>'
        "{% endblock %}"
    )
    (templates / "static" / "extra.css").write_text("main { margin: 0; }\n")
    repo = ContentRepo(tmp_path / "content")
    repo.genesis()
    site = build_site(repo.path, tmp_path, templates=templates)
    assert "Nothing here, sorry" in site.text("404.html")
    assert '<a href="../log/index.html">log</a>' in site.text("about/index.html")
    assert '<a href="about/index.html">About</a>' in site.text("index.html")
    assert site.text("static/extra.css") == "main { margin: 0; }\n"
    assert (site.out / "static/style.css").exists()


def test_a_template_error_names_the_page(tmp_path: Path) -> None:
    from generator.errors import UsageError

    templates = tmp_path / "theme"
    templates.mkdir()
    (templates / "404.html").write_text("{% extends 'base.html' %}{% block main %}{{ nope }}"
                                        "{% endblock %}")  # fmt: skip
    repo = ContentRepo(tmp_path / "content")
    repo.genesis()
    with pytest.raises(UsageError, match=r"template error rendering 404\.html: .*'nope'"):
        build_site(repo.path, tmp_path, templates=templates)


def test_smki_build_takes_a_templates_folder(tmp_path: Path) -> None:
    templates = tmp_path / "theme"
    templates.mkdir()
    (templates / "404.html").write_text(
        '{% extends "base.html" %}{% block main %}<h1>Custom 404</h1>{% endblock %}'
    )
    repo = ContentRepo(tmp_path / "content")
    repo.genesis()
    out = tmp_path / "site"
    result = CliRunner().invoke(main, [
        "build", "--content", str(repo.path), "--out", str(out),
        "--log-key", str(log_key_file(tmp_path)), "--state", str(tmp_path / "state"),
        "--templates", str(templates),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Custom 404" in (out / "404.html").read_text()
    assert (out / "items/documents/a.md/v1/index.html").exists()
    shutil.rmtree(out)


def test_the_facts_journal_is_split_as_written_and_anything_else_rewrites_it(
    tmp_path: Path,
) -> None:
    header = {"format": "smki-site-facts/v1", "fingerprint": "f"}
    a, b = "a" * 64, "b" * 64
    lines = [
        json.dumps(header, sort_keys=True, separators=(",", ":")),
        f'["facts","{a}",{{"facts":{{"title":"A"}},"kind":"markdown"}}]',
        f'["issued","{a}:{b}",true]',
        f'["issued","{b}:{a}",false]',
    ]
    path = tmp_path / "facts.jsonl"
    path.write_text("\n".join(lines) + "\n")
    facts, issued = LazyJson(), {}
    assert _read_facts(path, header, facts, issued) is False
    assert facts.get(a) == {"facts": {"title": "A"}, "kind": "markdown"} and len(facts) == 1
    assert issued == {f"{a}:{b}": True, f"{b}:{a}": False}
    for damage in ('["issued","x",maybe]', '["issued","x\\"y",true]', '["other","x",1]', "{"):
        path.write_text("\n".join([*lines, damage]) + "\n")
        facts, issued = LazyJson(), {}
        assert _read_facts(path, header, facts, issued) is True, damage
        assert len(issued) == 2 and facts.get(a) is not None
    path.write_text("\n".join(lines))  # cut short: no final newline
    assert _read_facts(path, header, LazyJson(), {}) is True


def test_the_writer_looks_only_where_a_file_may_already_be(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files in folders the writer made are written without a look; elsewhere an old file
    with the same bytes is kept and one with other bytes replaced."""
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "same.html").write_bytes(b"same")
    (tmp_path / "old" / "other.html").write_bytes(b"stale")
    looked: list[str] = []
    real_stat = output.os.stat

    def stat(path: str, *args: object, **kwargs: object) -> object:
        looked.append(str(path))
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(output.os, "stat", stat)
    writer = OutputWriter(tmp_path, {})
    for path in ("old/same.html", "old/other.html", "new/a.html", "new/b.json",
                 "new/deep/c.html", "old/fresh/d.html"):  # fmt: skip
        writer.emit(path, "key", lambda p=path: f"bytes of {p}".encode() if "same" not in p
                    else b"same")  # fmt: skip
    assert (writer.written, writer.unchanged) == (5, 1)
    assert (tmp_path / "old" / "other.html").read_bytes() == b"bytes of old/other.html"
    assert (tmp_path / "new" / "deep" / "c.html").read_bytes() == b"bytes of new/deep/c.html"
    files = [p for p in looked if p.endswith((".html", ".json"))]
    assert files == [str(tmp_path / "old" / "same.html"), str(tmp_path / "old" / "other.html"),
                     str(tmp_path / "new" / "a.html"), str(tmp_path / "old" / "fresh" / "d.html")]
    assert writer.made == {str(tmp_path / f) for f in ("new", "new/deep", "old/fresh")}


class _Html:
    def __html__(self) -> str:
        return "<b>kept</b>"


@pytest.mark.parametrize(
    "value",
    ["plain", "<script>alert('x')</script> & \"q\"", Markup("<i>safe</i>"), 42, None, 1.5,
     _Html(), ("<", 1)],
)
def test_templates_escape_their_output_as_markupsafe(value: object) -> None:
    assert render._escaped_text(value) == str(escape(value))


def test_the_templates_use_the_output_escape() -> None:
    theme_env = jinja2.Environment(autoescape=True)
    theme_env.template_class = render._Template
    template = theme_env.from_string("{{ a }}|{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(a) }}")
    assert template.render(a="<&>") == "&lt;&amp;&gt;|<&lt;&amp;&gt;>"
    assert template.root_render_func.__globals__["escape"] is render._OUTPUT_ESCAPE
    assert render._OUTPUT_ESCAPE is render._escaped_text  # MarkupSafe 3 is installed
    strict = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    strict.template_class = render._Template
    with pytest.raises(jinja2.UndefinedError):
        strict.from_string("{{ missing }}").render()
