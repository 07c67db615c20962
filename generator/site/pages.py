"""The page plan: every file of the site, with the values it shows.

:func:`plan_site` turns the model into :class:`Page` (a template and its
context) and :class:`DataFile` (bytes made on demand) outputs, registering
each path in a :class:`~generator.site.links.SiteMap` first, and resolves the
cross-references pages make: a current document's relative link to something
that is not in the repository is a build error here, before anything is
rendered. A page's context holds small frozen values only, so its ``repr`` is
a complete, cheap description of the page (the render cache key); heavy views
(certificates, documents, diffs) are looked up by SHA-256 at render time.

Outputs are planned in units (an item, a family's listing pages, a block of log
entries with its listing page, a note): a unit whose signature is the previous
build's is taken from the :class:`~generator.site.output.PlanMemo` unplanned. A
signature names the log entries the unit is made of (the log only grows, so an
index stands for its entry) and, for what a unit shows of other items, an
*epoch*: every item path for documents (their links resolve to paths), every
certificate and CRL version for certificates and CRLs (issuers, chains,
siblings, revocations).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from generator.errors import ContentError
from generator.repository.content import FAMILIES
from generator.site import feeds, links
from generator.site.certificate import Unparseable
from generator.site.facts import CertificateFacts, CrlFacts, ObjectFacts
from generator.site.model import Item, SiteModel, Version, Withdrawal
from generator.site.notes import Authorisation
from generator.site.output import PlanMemo, output_key
from generator.site.pki import PkiLinks
from generator.tlog.checkpoint import SignedCheckpoint

FAMILY_PAGE_SIZE = 200
ENTRIES_PAGE_SIZE = 100
LATEST_CHANGES = 20

FAMILY_TITLES = {
    "documents": "Documents",
    "certificates/ca": "CA certificates",
    "certificates/organisation": "Organisation certificates",
    "certificates/device": "Device certificates",
    "crls": "CRLs and ARLs",
}


@dataclass(frozen=True)
class Page:
    """An HTML page: a template and the values it shows."""

    path: str
    template: str
    context: Mapping[str, Any]


@dataclass(frozen=True)
class DataFile:
    """A non-HTML output whose bytes are a function of ``key``."""

    path: str
    key: str
    make: Callable[[], bytes] = field(compare=False, repr=False)


Output = Page | DataFile

ProofSource = Callable[[int], tuple[str, Callable[[], bytes]]]
"""Gives a log index's tlog-proof as its cache key and a function that makes its bytes."""


@dataclass(frozen=True)
class ExtraPage:
    """A page of the theme's own (``pages/<name>.html``, e.g. search), at ``<name>/``."""

    template: str
    path: str
    title: str


@dataclass(frozen=True)
class AuthSummary:
    """What an item page says about the note that authorised a version."""

    kind: str
    id: str
    decision: str | None
    decided: str | None
    decision_ref: str | None
    rationale: str | None
    lodged_by: str | None
    pma_signatures: int
    threshold: int


@dataclass(frozen=True)
class DocLink:
    """A relative link of a document and the page it resolves to (None: dangling)."""

    href: str
    target: str | None
    fragment: str


@dataclass(frozen=True)
class Event:
    """One line of an item's history: a version or a withdrawal."""

    index: int
    time: str
    item: str
    action: str
    number: int | None
    authorisation: str | None


@dataclass(frozen=True)
class Row:
    """An item in a family listing."""

    item: str
    name: str
    title: str
    status: str
    versions: int
    updated: str


@dataclass(frozen=True)
class Target:
    """The page a log entry is about."""

    label: str
    path: str
    fragment: str | None = None


@dataclass(frozen=True)
class CheckpointInfo:
    """The build's signed checkpoint, verbatim and parsed."""

    origin: str
    size: int
    root_base64: str
    root_hex: str
    extensions: tuple[str, ...]
    text: str
    last_time: str


def summary_of(auth: Authorisation) -> AuthSummary:
    """The summary of an approval or lodgement shown on item pages."""
    a, lodgement = auth.approval, auth.lodgement
    return AuthSummary(
        auth.kind, auth.id,
        a.decision if a else None, a.decided if a else None, a.decision_ref if a else None,
        a.rationale if a else None, lodgement.lodged_by if lodgement else None,
        auth.pma_signatures, auth.threshold,
    )  # fmt: skip


def events(item: Item) -> tuple[Event, ...]:
    """An item's versions and withdrawals in log order."""
    out = [_version_event(v) for v in item.versions]
    out += [_withdrawal_event(item.path, w) for w in item.withdrawals]
    return tuple(sorted(out, key=lambda e: e.index))


def _updated(item: Item) -> str:
    """The time of an item's latest version or withdrawal."""
    return max([(v.index, v.time) for v in item.versions[-1:]]
               + [(w.index, w.time) for w in item.withdrawals])[1]  # fmt: skip


def _version_event(v: Version) -> Event:
    return Event(v.index, v.time, v.item, v.action, v.number,
                 v.authorisation.id if v.authorisation else None)  # fmt: skip


def _withdrawal_event(item: str, w: Withdrawal) -> Event:
    action = "withdraw" if w.incident is None else "violation"
    return Event(w.index, w.time, item, action, None,
                 w.authorisation.id if w.authorisation else None)  # fmt: skip


class _Planner:
    def __init__(self, model: SiteModel, pki: Callable[[], PkiLinks], facts: ObjectFacts,
                 checkpoint: SignedCheckpoint, vkey: str, proof: ProofSource,
                 site: links.SiteMap, extra: Sequence[ExtraPage], memo: PlanMemo) -> None:
        self.model, self.facts, self.proof, self.memo = model, facts, proof, memo
        self.checkpoint, self.vkey, self.site, self.extra = checkpoint, vkey, site, extra
        self._pki_source: Callable[[], PkiLinks] = pki
        self._pki: PkiLinks | None = None
        self.outputs: list[Output] = []
        self.descriptions: dict[str, str] = {}  # item path -> its unit's description
        self._doc_links: dict[tuple[str, int], tuple[DocLink, ...]] = {}
        self.summaries = {key: summary_of(a) for key, a in model.authorisations.items()}
        self.made_by = {v.index: v for item in model.items.values() for v in item.versions}
        self.incidents = {i.index: i for i in model.incidents}
        self.families = tuple(f for f in FAMILIES
                              if any(i.family == f for i in model.items.values()))  # fmt: skip
        self.paths_epoch = output_key(repr((tuple(model.items), self.families)))
        self.pki_epoch = output_key(repr((self.paths_epoch, [
            (v.item, v.number, v.sha256) for i in model.items.values()
            if i.kind in ("certificate", "crl") for v in i.versions
        ])))  # fmt: skip

    @property
    def pki(self) -> PkiLinks:
        """The certificate and CRL cross-references, resolved when first needed."""
        if self._pki is None:
            self._pki = self._pki_source()
        return self._pki

    def unit(self, name: str, description: str, plan: Callable[[], None]) -> None:
        """Plan unit ``name``, or take the previous build's outputs if it is the same."""
        signature = self.memo.signature(description)
        if self.memo.reuse(name, signature):  # registered all at once when the plan is done
            return
        start = len(self.outputs)
        plan()
        self.memo.record(name, signature, [o.path for o in self.outputs[start:]])

    def page(self, path: str, template: str, what: str, **context: Any) -> None:
        self.site.add(path, what)
        self.outputs.append(Page(path, template, context))

    def data(self, path: str, key: str, make: Callable[[], bytes], what: str) -> None:
        self.site.add(path, what)
        self.outputs.append(DataFile(path, key, make))

    # -- items --------------------------------------------------------------------------

    def title(self, item: Item, version: Version) -> str:
        if item.kind in ("certificate", "crl", "markdown"):
            return self.facts.title(item.kind, version.sha256) or item.name
        return item.name

    def doc_links(self, item: Item, version: Version, source: str) -> tuple[DocLink, ...]:
        """The links of a document version, resolved (once: its item and version pages
        both show it)."""
        key = (item.path, version.number)
        found = self._doc_links.get(key)
        if found is None:
            found = self._doc_links[key] = self._resolve_links(item, version, source)
        return found

    def _resolve_links(self, item: Item, version: Version, source: str) -> tuple[DocLink, ...]:
        out = []
        for href in self.facts.document(version.sha256).links:
            found = links.document_target(item.path, href, self.model.items, self.families)
            if found is None and version.status == "current":
                raise ContentError(
                    f"{source}: the link {href!r} in {item.path} points at nothing in the "
                    "repository (a dangling link in a current document: amend it)"
                )
            out.append(DocLink(href, *(found or (None, ""))))
        return tuple(out)

    def content(self, item: Item, version: Version, source: str, *, full: bool) -> dict[str, Any]:
        """The values of a version's content block (shared by item and version pages).

        Only a version page (``full``) shows a certificate or CRL in full; an item
        page shows its summary, made from the facts without parsing it again.
        """
        key = (item.path, version.number)
        renderable = item.kind == "markdown" and (
            self.facts.document(version.sha256).unrenderable is None
        )
        return {
            "auth": self.summaries.get((version.authorisation.kind, version.authorisation.id))
            if version.authorisation else None,
            "incident": self.incidents.get(version.incident or -1),
            "renderable": renderable,
            "doc_links": self.doc_links(item, version, source) if renderable else (),
            "full": full,
            "summary": self.object_facts(item, version),
            "cert": self.pki.certificates.get(key) if item.kind == "certificate" else None,
            "crl": self.pki.crls.get(key) if item.kind == "crl" else None,
            "previous": item.versions[version.number - 2] if version.number > 1 else None,
        }  # fmt: skip

    def object_facts(self, item: Item, version: Version) -> CertificateFacts | CrlFacts | None:
        """The facts of a certificate or CRL version (None for a document)."""
        if item.kind == "certificate":
            return self.facts.certificate(version.sha256)
        return self.facts.crl(version.sha256) if item.kind == "crl" else None

    def item_description(self, item: Item) -> str:
        """What an item's outputs are made of (its entries, notes, incidents; its epoch)."""
        notes = tuple(
            self.model.authorisations[(v.authorisation.kind, v.authorisation.id)].indexes
            if v.authorisation else None for v in item.versions
        )  # fmt: skip
        incidents = (*(v.incident for v in item.versions), *(w.incident for w in item.withdrawals))
        ratified = tuple(
            self.incidents[i].ratified_at if i is not None and i in self.incidents else None
            for i in incidents
        )  # fmt: skip
        epoch = self.pki_epoch if item.kind in ("certificate", "crl") else self.paths_epoch
        return repr((epoch, item.path, [v.index for v in item.versions],
                     [w.index for w in item.withdrawals], notes, ratified))  # fmt: skip

    def item(self, item: Item) -> None:
        description = self.descriptions[item.path] = self.item_description(item)
        self.unit(f"item:{item.path}", description, lambda: self.plan_item(item))

    def plan_item(self, item: Item) -> None:
        latest = item.latest
        source = links.item_page(item.path)
        self.page(source, "item.html", f"the page of {item.path}", item=item, version=latest,
                  events=events(item), title=self.title(item, latest),
                  **self.content(item, latest, source, full=False))
        for version in item.versions:
            self.version(item, version)

    def version(self, item: Item, v: Version) -> None:
        source = links.version_page(item.path, v.number)
        record = self.model.records[v.index]
        self.page(source, "version.html", f"version {v.number} of {item.path}", item=item,
                  version=v, title=self.title(item, v), sha256=v.sha256, entry_index=v.index,
                  item_path=item.path, leaf_hash=record.leaf_hash,
                  **self.content(item, v, source, full=True))
        described = feeds.object_description(item, v, self.facts)
        key = repr((v, len(item.versions), record.canonical, described))
        self.data(links.version_json(item.path, v.number), key,
                  lambda: feeds.version_record(item, v, record, described),
                  f"the facts of {source}")
        proof_key, make_proof = self.proof(v.index)
        self.data(links.version_proof(item.path, v.number), proof_key, make_proof,
                  f"the proof of {source}")
        if item.kind in ("certificate", "crl"):
            self.converted(item, v)

    def converted(self, item: Item, v: Version) -> None:
        """The certificate or CRL in the encoding it was not logged in (PEM or DER)."""
        facts = self.object_facts(item, v)
        if facts is None or facts.unparseable is not None:
            return
        encoding = "der" if facts.encoding == "pem" else "pem"
        path = links.converted(item.path, v.number, item.kind, encoding)
        self.data(path, v.sha256, lambda: self.encoded(item.kind, v.sha256, encoding),
                  f"the {encoding.upper()} form of {links.version_page(item.path, v.number)}")

    def encoded(self, kind: str, sha256: str, encoding: str) -> bytes:
        """A parseable certificate or CRL in PEM or DER."""
        view = self.facts.certificate_view(sha256) if kind == "certificate" else (
            self.facts.crl_view(sha256)
        )
        if isinstance(view, Unparseable):
            raise ContentError(f"object {sha256} is not a parseable {kind}")
        return view.pem.encode() if encoding == "pem" else view.der

    def families_pages(self) -> None:
        """Each family's listing pages (a unit: made of its items, in order, as described
        for their own units) and the items index."""
        members: dict[str, list[Item]] = {f: [] for f in self.families}
        for item in self.model.items.values():
            members[item.family].append(item)
        counts = []
        for family in self.families:
            items = members[family]
            description = "\n".join(self.descriptions[i.path] for i in items)
            self.unit(f"family:{family}", description,
                      functools.partial(self.family_pages, family, items))  # fmt: skip
            current = sum(i.status == "current" for i in items)
            counts.append((family, FAMILY_TITLES[family], current, len(items) - current))
        self.counts = tuple(counts)
        self.page(links.ITEMS, "items.html", "the items index", counts=self.counts)

    def family_pages(self, family: str, items: list[Item]) -> None:
        rows = [Row(item.path, item.name, self.title(item, item.latest), item.status,
                    len(item.versions), _updated(item)) for item in items]  # fmt: skip
        pages = max(1, -(-len(rows) // FAMILY_PAGE_SIZE))
        paths = tuple(links.family_page(family, n) for n in range(1, pages + 1))
        for n, path in enumerate(paths, 1):
            chunk = rows[(n - 1) * FAMILY_PAGE_SIZE : n * FAMILY_PAGE_SIZE]
            self.page(path, "family.html", f"the {family} listing", family=family,
                      family_title=FAMILY_TITLES[family], rows=tuple(chunk), number=n,
                      page_paths=paths)  # fmt: skip

    # -- notes, incidents, policy, log -----------------------------------------------------

    def notes(self) -> None:
        first: dict[tuple[str, str], int] = {}  # (item, sha256) -> its first version with them
        for item in self.model.items.values():
            for v in item.versions:
                first.setdefault((item.path, v.sha256), v.number)
        for kind, listing in (("approval", links.APPROVALS), ("lodgement", links.LODGEMENTS)):
            notes = tuple(a for a in self.model.authorisations.values() if a.kind == kind)
            for auth in notes:
                versions = {
                    (c.item, sha): number
                    for c in auth.changes for sha in (c.from_sha256, c.to_sha256)
                    if sha is not None and (number := first.get((c.item, sha))) is not None
                }  # fmt: skip
                # a dict, not a set: its repr (the page's cache key) keeps a fixed order
                known = dict.fromkeys(sorted({c.item for c in auth.changes
                                              if c.item in self.model.items}))
                description = repr((auth.indexes, [c.used_by for c in auth.changes],
                                    sorted(versions.items()), list(known)))  # fmt: skip
                self.unit(f"note:{kind}:{auth.id}", description, functools.partial(
                    self.page, links.note_page(kind, auth.id), "note.html", f"{kind} {auth.id}",
                    auth=auth, versions=versions, known=known))  # fmt: skip
            self.page(listing, "notes.html", f"the {kind} index", kind=kind,
                      notes=tuple(sorted(notes, key=lambda a: a.indexes[0], reverse=True)))

    def target(self, index: int) -> Target | None:
        record = self.model.records[index]
        entry = json.loads(record.canonical)
        if record.type in ("violation", "ratify"):
            violation = index if record.type == "violation" else entry["violation"]
            return Target(f"incident at entry {violation}", links.INCIDENTS,
                          f"incident-{violation}")
        if index in self.made_by:
            v = self.made_by[index]
            return Target(f"version {v.number} of {v.item}", links.version_page(v.item, v.number))
        if record.type == "withdraw":
            return Target(entry["item"], links.item_page(entry["item"]))
        if record.type == "note":
            page = links.note_page(entry["kind"], entry["id"])
            return Target(f"{entry['kind']} {entry['id']}", page)
        if record.type == "policy":
            return Target(f"policy version {entry['version']}", links.POLICY,
                          f"v{entry['version']}")
        return None

    def log(self) -> None:
        records = self.model.records
        size = len(records)
        pages = max(1, -(-size // ENTRIES_PAGE_SIZE))
        paths = tuple(links.entries_page(n) for n in range(1, pages + 1))
        for n, path in enumerate(paths, 1):
            start, end = (n - 1) * ENTRIES_PAGE_SIZE, min(n * ENTRIES_PAGE_SIZE, size)
            # an entry and its page never change, but for the last entry's "latest" mark
            description = repr((n, end - start, len(paths), n == len(paths)))
            self.unit(f"entries:{n}", description, functools.partial(
                self.entries_block, n, path, start, end, paths))  # fmt: skip
        self.page(links.ENTRIES, "entries.html", "the log entries index",
                  records=tuple(reversed(records[-ENTRIES_PAGE_SIZE:])), number=None,
                  page_paths=paths, page_size=ENTRIES_PAGE_SIZE)
        self.page(links.LOG, "log.html", "the log page", checkpoint=self.info(),
                  vkey=self.vkey)
        self.page(links.INCIDENTS, "incidents.html", "the incidents page",
                  incidents=self.model.incidents,
                  item_paths=tuple(sorted({i.path for i in self.model.incidents
                                           if i.path in self.model.items})))
        self.page(links.POLICY, "policy.html", "the policy page", policies=self.model.policies)

    def entries_block(self, n: int, path: str, start: int, end: int,
                      paths: tuple[str, ...]) -> None:  # fmt: skip
        """Listing page ``n`` of the log entries [start, end) and the page of each."""
        chunk = self.model.records[start:end]
        self.page(path, "entries.html", f"log entries page {n}", records=tuple(reversed(chunk)),
                  number=n, page_paths=paths, page_size=ENTRIES_PAGE_SIZE)  # fmt: skip
        last = len(self.model.records) - 1
        for record in chunk:
            self.page(links.entry_page(record.index), "entry.html", f"log entry {record.index}",
                      record=record, target=self.target(record.index),
                      last=record.index == last)  # fmt: skip

    def info(self) -> CheckpointInfo:
        tree = self.checkpoint.checkpoint
        return CheckpointInfo(
            tree.origin, tree.size, tree.text().split("\n")[2], tree.root_hash.hex(),
            tree.extensions, self.checkpoint.raw.decode(),
            self.model.records[tree.size - 1].time if tree.size else "",
        )

    def home(self) -> None:
        withdrawn = {w.index: (i.path, w) for i in self.model.items.values() for w in i.withdrawals}
        latest = []
        for index in sorted({*self.made_by, *withdrawn}, reverse=True)[:LATEST_CHANGES]:
            v = self.made_by.get(index)
            event = _version_event(v) if v is not None else _withdrawal_event(*withdrawn[index])
            latest.append(event)
        self.page(links.HOME, "index.html", "the home page", checkpoint=self.info(),
                  counts=self.counts, latest=tuple(latest),
                  incidents=self.model.incidents, approvals=sum(
                      a.kind == "approval" for a in self.model.authorisations.values()),
                  lodgements=sum(a.kind == "lodgement" for a in self.model.authorisations.values()))
        self.page(links.NOT_FOUND, "404.html", "the not-found page")
        for extra in self.extra:
            self.page(extra.path, extra.template, f"the page {extra.template}")

    def plan(self) -> list[Output]:
        for item in self.model.items.values():
            self.item(item)
        self.families_pages()
        self.notes()
        self.log()
        self.home()
        self.site.add_reused(self.memo.reused.values())
        return self.outputs


def plan_site(model: SiteModel, pki: Callable[[], PkiLinks], facts: ObjectFacts,
              checkpoint: SignedCheckpoint, vkey: str, proof: ProofSource, site: links.SiteMap,
              extra: Sequence[ExtraPage] = (), memo: PlanMemo | None = None) -> list[Output]:
    """Every page and data file of the site to make, each path registered in ``site``.

    ``pki`` resolves the certificate cross-references (called only if a certificate or
    CRL is planned); ``proof`` gives a log index's tlog-proof (cache key, maker);
    ``extra`` are the theme's own pages. Units the ``memo`` reuses are registered but
    not returned (their outputs are in ``memo.reused``). Raises :class:`ContentError`
    on a dangling link in a current document or two outputs at one path.
    """
    memo = memo if memo is not None else PlanMemo("")
    return _Planner(model, pki, facts, checkpoint, vkey, proof, site, extra, memo).plan()
