"""Hostile content never becomes markup: an XSS corpus through Markdown and through the site.

Documents, certificate fields, approval texts and commit messages are all
written by someone else. Whatever they hold, the pages may carry no script but
the site's own (with ``src`` and ``integrity``), no event handler, no ``style``,
and no link or source whose scheme is not http, https or mailto.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from generator.repository.authorisation import Approval, Change, approval_text
from generator.site.markdown import render_markdown, resolve_links
from generator.tlog.note import sign_note
from tests.repository.gitrepo import ContentRepo, key, sha
from tests.site.sitebuild import SIGNERS, BuiltSite, ParsedPage, build_site, parse_html

ALLOWED_SCHEMES = ("http:", "https:", "mailto:")

CORPUS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<a href='x' onmouseover='alert(1)'>x</a>",
    "<iframe src=//evil.example></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<object data=javascript:alert(1)></object>",
    "<base href=javascript:/>",
    "<meta http-equiv=refresh content=0;url=javascript:alert(1)>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<!-- <script>alert(1)</script> -->",
    "<<script>script>alert(1)<</script>/script>",
    "<scr<script>ipt>alert(1)</script>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript&#x3A;alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml,<svg onload=alert(1)>)",
    "<javascript:alert(1)>",
    "[ref]: javascript:alert(1)\n\n[click][ref]",
    '[x](https://example.org/ "a\\" onmouseover=\\"alert(1)")',
    "[x](#smki-link-0)",  # a document cannot forge the site's own link tokens
    "[x](&#35;smki-link-0)",
    "# <img src=x onerror=alert(1)>",
    "| <script>alert(1)</script> | x |\n|---|---|\n| a | b |",
    "```\n</code></pre><script>alert(1)</script>\n```",
    "`<script>alert(1)</script>`",
    '" onmouseover="alert(1)',
    "x <style>body{display:none}</style>",
]


def assert_inert(page: ParsedPage, where: str, own_scripts: bool = False) -> None:
    """No executable markup: only the site's own scripts, no handlers, safe URLs only."""
    for tag in page.tags:
        at = f"{where}:{tag.line}: <{tag.name}>"
        assert tag.name not in ("iframe", "object", "embed", "base", "svg", "math", "style",
                                "img"), at  # fmt: skip
        if tag.name == "form":  # the site's own forms (verify, search) are handled by script
            assert own_scripts and not tag.has("action"), at
        if tag.name == "meta":
            assert tag.get("http-equiv") in (None, "Content-Security-Policy"), at
        if tag.name == "script":
            assert own_scripts and tag.get("integrity") and (tag.get("src") or "").startswith(
                ("../", "static/", "/")), at
        for name, value in tag.attrs:
            assert not name.startswith("on") and name != "style", f"{at} {name}"
            if name in ("href", "src", "action", "formaction", "data") and value:
                url = re.sub(r"[\x00-\x20]", "", value).lower()
                scheme = re.match(r"[a-z][a-z0-9+.-]*:", url)
                assert scheme is None or url.startswith(ALLOWED_SCHEMES), f"{at} {value}"
    assert page.scripts.strip() == "", f"{where}: inline script"


@pytest.mark.parametrize("source", CORPUS)
def test_markdown_corpus_is_inert(source: str) -> None:
    rendered = render_markdown(source)
    html = resolve_links(rendered.html, ["../safe/index.html"] * len(rendered.links))
    assert_inert(parse_html(html), repr(source))
    assert "<script" not in html.lower()  # "javascript:" may remain, as text
    assert 'href="#smki-link-' not in html  # every token was resolved, none was forged


def test_raw_html_is_shown_as_text() -> None:
    rendered = render_markdown("Before <b>bold</b> & <script>alert(1)</script> after\n")
    text = parse_html(rendered.html).text
    assert "<b>bold</b>" in text and "<script>alert(1)</script>" in text


def test_a_forged_token_cannot_redirect_a_link() -> None:
    rendered = render_markdown("[mine](a.md) [forged](#smki-link-0)\n")
    html = resolve_links(rendered.html, ["../a.md/index.html"])
    assert '<a href="#doc-smki-link-0" rel="noopener noreferrer">forged</a>' in html
    assert html.count("../a.md/index.html") == 1


def test_targets_are_escaped() -> None:
    rendered = render_markdown("[x](a.md)\n")
    html = resolve_links(rendered.html, ['"><script>alert(1)</script>'])
    assert "<script>" not in html and "&lt;script&gt;" in html


# -- through the whole site -----------------------------------------------------------------

EVIL_CN = "<script>alert(1)</script>"
EVIL_ORG = 'Smart "Energy" & <Co> \'Ltd\''


def evil_certificate() -> bytes:
    """A self-signed certificate whose names are markup (and not of the GBCS profile)."""
    private = ec.derive_private_key(424242, ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, EVIL_CN),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, EVIL_ORG),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "02"),
    ])  # fmt: skip
    moment = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(0x1234)
        .not_valid_before(moment)
        .not_valid_after(moment + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([
                x509.DNSName("javascript-alert.example"),
                x509.UniformResourceIdentifier("javascript:alert(1)"),
            ]),
            critical=False,
        )
        .sign(private, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def evil_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    work = tmp_path_factory.mktemp("evil-site")
    repo = ContentRepo(work / "content")
    document = "# Hostile <b>document</b>\n\n" + "\n\n".join(CORPUS) + "\n"
    repo.genesis({
        "items/documents/evil.md": document,
        "items/certificates/organisation/evil.pem": evil_certificate(),
    })  # fmt: skip
    old = repo.read("items/documents/evil.md")
    new = repo.write("items/documents/evil.md", document + "\n<script>alert(2)</script>\n")
    approval = Approval(
        "PMA-EVIL", "<img src=x onerror=alert(1)>", "2026-01-01", "approved", "SEC L5.6A",
        '<script>alert("rationale")</script>', "<b>DCC</b>",
        (Change("amend", "items/documents/evil.md", sha(old), sha(new)),),
    )
    repo.write("approvals/PMA-EVIL.note",
               sign_note(approval_text(approval), [key(k) for k in SIGNERS]))  # fmt: skip
    repo.commit('amend <img src=x onerror=alert("subject")>')
    return build_site(repo.path, work)


def test_no_page_of_a_hostile_repository_is_executable(evil_site: BuiltSite) -> None:
    for path in evil_site.html_pages():
        assert_inert(parse_html(evil_site.text(path)), path, own_scripts=True)
        raw = evil_site.text(path)
        assert "<script>alert" not in raw and "<img src=x" not in raw, path


def test_certificate_fields_are_escaped_not_dropped(evil_site: BuiltSite) -> None:
    page = "items/certificates/organisation/evil.pem/v1/index.html"
    raw = evil_site.text(page)
    words = parse_html(raw).words
    assert EVIL_CN in words  # in the title, shown as the text it is
    assert "O=Smart \\\"Energy\\\" & \\<Co\\> 'Ltd'" in words  # RFC 4514 escapes, as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert "\\&lt;Co\\&gt;" in raw and "&amp;" in raw
    assert "javascript:alert(1)" in words  # a SAN URI, shown as text, never as a link
    assert 'href="javascript' not in raw.lower()


def test_notes_and_commit_messages_are_escaped(evil_site: BuiltSite) -> None:
    approval = parse_html(evil_site.text("approvals/PMA-EVIL/index.html")).words
    assert '<script>alert("rationale")</script>' in approval
    assert "<img src=x onerror=alert(1)>" in approval
    entries = [p for p in evil_site.html_pages() if p.startswith("log/entry/")]
    subjects = [parse_html(evil_site.text(p)).words for p in entries]
    assert any('amend <img src=x onerror=alert("subject")>' in s for s in subjects)


def test_the_hostile_document_still_reads(evil_site: BuiltSite) -> None:
    words = parse_html(evil_site.text("items/documents/evil.md/v2/index.html")).words
    assert "Hostile <b>document</b>" in words
    assert "<script>alert(2)</script>" in words  # in the document and its diff, as text


def test_objects_are_never_rendered_by_browsers(evil_site: BuiltSite, tmp_path: Path) -> None:
    from generator.serve import headers_for, parse_headers_file

    rules = parse_headers_file(evil_site.text("_headers"))
    headers = headers_for(rules, "/objects/" + "a" * 64)
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in headers["Content-Security-Policy"]
