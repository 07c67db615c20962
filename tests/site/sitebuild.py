"""A small deterministic content repository with a history worth showing, and its site.

Everything is fixed so that two builds give the same bytes: commit times
(ContentRepo's clock), the synthetic PKI (tools/sample_pki.py, seeded), the log
key (derived from a constant) and every signature (Ed25519 only: the ECDSA keys
sign with random nonces).

History of :func:`sample_repository`:

1. genesis: policy, three documents (``scope.md`` links to ``glossary.md`` and a
   CRL), a PDF, the sample PKI (4 CAs, 12 organisation and 2 device certificates,
   CRL 0001, ARL 0001), a malformed DER certificate; lodgement LDG-T-0001;
2. ``scope.md`` amended (approval PMA-T-001), CRL 0002 lodged (LDG-T-0002);
3. ``annex.pdf`` withdrawn (approval PMA-T-002), a rejected decision PMA-T-004;
4. ``glossary.md`` changed with no authorisation (an incident);
5. that change ratified (approval PMA-T-003).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import importlib.util
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType

from generator.build import build, site_inputs
from generator.repository.authorisation import Change
from generator.site.output import SiteCache
from generator.site.render import SiteInputs, SiteReport, render_site
from generator.tlog.note import ALG_ED25519, key_id
from tests.conftest import ROOT
from tests.repository.gitrepo import ContentRepo, sha

ORIGIN = "smki.example/test-log"  # ContentRepo's policy origin
SIGNERS = ("pma-chair", "pma-member-c")  # the Ed25519 PMA keys: deterministic signatures
LOG_SEED = hashlib.sha256(b"smki-transparency site tests: log key").digest()

SCOPE = "items/documents/scope.md"
GLOSSARY = "items/documents/glossary.md"
ANNEX = "items/documents/annex.pdf"
BROKEN = "items/certificates/organisation/broken.der"
CRL1 = "items/crls/organisation-crl-0001.pem"
CRL2 = "items/crls/organisation-crl-0002.pem"

SCOPE_V1 = """# Scope of the SMKI Repository

## Purpose

The SMKI Repository holds certificates, revocation lists and the
[SMKI Document Set](glossary.md#terms). See the [current CRL](../crls/organisation-crl-0001.pem)
and the [SEC](https://smartenergycodecompany.co.uk/).

| Family | Lodged by |
|:-------|----------:|
| certificates | DCC |
| documents | SECAS |
"""

SCOPE_V2 = SCOPE_V1.replace("| documents | SECAS |", "| documents | SECAS |\n| CRLs | DCC |") + (
    "\n## Changes\n\nEvery change needs the express approval of the SMKI PMA (SEC L5.6A).\n"
)

GLOSSARY_V1 = """# Glossary

## Terms

DCC
: the Data Communications Company.

Back to the [scope](scope.md).
"""


def log_key_file(folder: Path) -> Path:
    """A fixed Ed25519 log key for :data:`ORIGIN` (C2SP signed-note key string)."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = ed25519.Ed25519PrivateKey.from_private_bytes(LOG_SEED).public_key()
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    encoded = base64.b64encode(bytes([ALG_ED25519]) + LOG_SEED).decode()
    path = folder / "log.key"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(f"PRIVATE+KEY+{ORIGIN}+{key_id(ORIGIN, ALG_ED25519, raw):08x}+{encoded}\n")
    return path


def sample_pki() -> ModuleType:
    """tools/sample_pki.py (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("sample_pki", ROOT / "tools" / "sample_pki.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("sample_pki", module)
    spec.loader.exec_module(module)
    return module


def pki_files(folder: Path) -> dict[str, bytes]:
    """The synthetic PKI as item paths and bytes (CRL 0002 under ``crls-later``)."""
    sample_pki().build_pki(folder, devices=1)
    return {
        "items/" + p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*.pem"))
    }


def sample_repository(path: Path, extra: Mapping[str, bytes | str] | None = None) -> ContentRepo:
    """The repository described in the module docstring (``extra`` items join genesis)."""
    repo = ContentRepo(path)
    repo.policy(signers=SIGNERS, pma_lodge=())
    pki = pki_files(path.parent / "pki")
    later = {p: d for p, d in pki.items() if "/crls-later/" in p}
    files: dict[str, bytes | str] = {
        SCOPE: SCOPE_V1,
        GLOSSARY: GLOSSARY_V1,
        ANNEX: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n%%EOF\n",
        BROKEN: b"\x30\x82\x01\x00 not a certificate \x00\xff",
        **{p: d for p, d in pki.items() if p not in later},
        **(extra or {}),
    }
    for item, data in files.items():
        repo.write(item, data)
    repo.lodgement("LDG-T-0001", list(files))
    repo.commit("genesis: the repository as lodged")

    old = repo.read(SCOPE)
    new = repo.write(SCOPE, SCOPE_V2)
    repo.approval("PMA-T-001", [Change("amend", SCOPE, sha(old), sha(new))], SIGNERS)
    repo.write(CRL2, next(iter(later.values())))
    repo.lodgement("LDG-T-0002", [CRL2])
    repo.commit("amend the scope; lodge CRL 0002")

    repo.approval("PMA-T-002", [Change("withdraw", ANNEX, sha(repo.read(ANNEX)), None)], SIGNERS)
    repo.approval("PMA-T-004", [Change("withdraw", SCOPE, sha(new), None)], SIGNERS,
                  decision="rejected")  # fmt: skip
    repo.delete(ANNEX)
    repo.commit("withdraw the annex")

    before = repo.read(GLOSSARY)
    after = repo.write(GLOSSARY, GLOSSARY_V1 + "\nKA\n: Key Agreement.\n")
    incident = repo.commit("an unapproved edit")

    repo.approval(
        "PMA-T-003",
        [Change("ratify", GLOSSARY, sha(before), sha(after), incident)],
        SIGNERS,
    )
    repo.commit("ratify the unapproved edit")
    return repo


@dataclass(frozen=True)
class BuiltSite:
    """A built site: its folder, the site stage's inputs and report."""

    out: Path
    inputs: SiteInputs
    report: SiteReport

    def text(self, path: str) -> str:
        """A file of the site, as text."""
        return (self.out / path).read_text(encoding="utf-8")

    def site_files(self) -> list[str]:
        """Every file the site stage wrote (as its cache lists them), sorted."""
        return SiteCache.paths(self.out)

    def html_pages(self) -> list[str]:
        """Every HTML page of the site."""
        return [p for p in self.site_files() if p.endswith(".html")]


def publish_log(content: Path, out: Path, work: Path, key_file: Path | None = None) -> SiteInputs:
    """Run the log stage of :func:`generator.build.build` (no site): the site's inputs."""
    report = build(content, out, key_file=key_file or log_key_file(work),
                   state_dir=work / "state", site=False)  # fmt: skip
    return site_inputs(report)


def build_site(
    content: Path, work: Path, *, templates: Path | None = None, key_file: Path | None = None
) -> BuiltSite:
    """Publish ``content``'s log into ``work/site`` and render its site there."""
    out = work / "site"
    inputs = publish_log(content, out, work, key_file)
    if templates is not None:
        inputs = dataclasses.replace(inputs, templates=templates)
    return BuiltSite(out, inputs, render_site(inputs, out))


@dataclass(frozen=True)
class Tag:
    """A start tag of a page: its name, attributes (in order) and the line it is on."""

    name: str
    attrs: tuple[tuple[str, str | None], ...]
    line: int

    def get(self, name: str) -> str | None:
        """The value of attribute ``name`` (None if absent or valueless)."""
        return next((v for k, v in self.attrs if k == name), None)

    def has(self, name: str) -> bool:
        """Whether the tag carries attribute ``name``."""
        return any(k == name for k, _ in self.attrs)


_BLOCKS = frozenset({
    "address", "blockquote", "br", "dd", "details", "div", "dl", "dt", "footer", "h1", "h2",
    "h3", "h4", "h5", "h6", "header", "li", "main", "nav", "ol", "p", "pre", "section",
    "summary", "table", "td", "th", "tr", "ul",
})  # fmt: skip


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[Tag] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(Tag(tag, tuple(attrs), self.getpos()[0]))
        self._in_script = tag == "script"
        if tag in _BLOCKS:
            self.text.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(Tag(tag, tuple(attrs), self.getpos()[0]))

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False
        if tag in _BLOCKS:
            self.text.append("\n")

    def handle_data(self, data: str) -> None:
        (self.scripts if self._in_script else self.text).append(data)


@dataclass(frozen=True)
class ParsedPage:
    """The tags, text and inline script text of an HTML page."""

    tags: tuple[Tag, ...]
    chunks: tuple[str, ...]
    scripts: str

    @property
    def text(self) -> str:
        """The page's text as written."""
        return "".join(self.chunks)

    @property
    def words(self) -> str:
        """The page's text with white space collapsed (block elements apart by a space)."""
        return " ".join("".join(self.chunks).split())

    def all(self, name: str) -> list[Tag]:
        """Every tag called ``name``."""
        return [t for t in self.tags if t.name == name]

    @property
    def ids(self) -> set[str]:
        """Every id on the page."""
        return {v for t in self.tags for k, v in t.attrs if k == "id" and v is not None}


def parse_html(text: str) -> ParsedPage:
    """Parse a page with the standard library's tolerant HTML parser."""
    parser = _Parser()
    parser.feed(text)
    parser.close()
    return ParsedPage(tuple(parser.tags), tuple(parser.text), "".join(parser.scripts))
