"""The site model, the object facts and their cache, and the certificate cross-references."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from generator.errors import GovernanceError
from generator.repository.replay import Replay
from generator.site import model as model_module
from generator.site.facts import (
    CertificateFacts,
    CrlFacts,
    DocumentFacts,
    ObjectFacts,
    RevokedFacts,
    dump_facts,
)
from generator.site.model import Item, SiteModel, collect_model, item_kind
from generator.site.notes import check_signatures
from generator.site.pki import pki_links
from generator.tlog.note import Note, Signature, parse_note, sign_note
from tests.repository.gitrepo import key
from tests.site.sitebuild import (
    ANNEX,
    BROKEN,
    CRL2,
    GLOSSARY,
    SCOPE,
    BuiltSite,
    publish_log,
    sample_repository,
)

WAN_DS = "items/certificates/organisation/wanprovider-90b3d51f30060001-ds.pem"
SUPPLIER_DS = "items/certificates/organisation/supplier-90b3d51f30010001-ds.pem"
SUPPLIER_KA = "items/certificates/organisation/supplier-90b3d51f30010001-ka.pem"


@pytest.fixture(scope="module")
def model(sample_site: BuiltSite) -> SiteModel:
    return collect_model(sample_site.inputs.replay)


def test_items_have_every_version_with_how_it_came(model: SiteModel) -> None:
    scope = model.items[SCOPE]
    assert [(v.number, v.action, v.status) for v in scope.versions] == [
        (1, "lodge", "superseded"), (2, "amend", "current"),
    ]  # fmt: skip
    assert scope.versions[0].authorisation is not None
    assert scope.versions[0].authorisation.id == "LDG-T-0001"
    assert scope.versions[1].authorisation is not None
    assert scope.versions[1].authorisation.id == "PMA-T-001"
    assert scope.status == "current" and scope.kind == "markdown"
    annex = model.items[ANNEX]
    assert annex.status == "withdrawn" and annex.latest.status == "withdrawn"
    assert annex.withdrawals[0].authorisation is not None
    assert annex.withdrawals[0].authorisation.id == "PMA-T-002" and annex.kind == "file"
    glossary = model.items[GLOSSARY].versions[1]
    assert glossary.action == "violation" and glossary.authorisation is None
    assert glossary.incident == model.incidents[0].index
    assert model.items[BROKEN].kind == "certificate" and model.items[CRL2].kind == "crl"


def test_the_incident_is_ratified(model: SiteModel) -> None:
    [incident] = model.incidents
    assert (incident.path, incident.change, incident.version) == (GLOSSARY, "modify", 2)
    assert incident.ratified_by is not None and incident.ratified_by.id == "PMA-T-003"
    assert incident.ratified_at is not None and incident.ratified_at > incident.index


def test_authorisations_record_use_and_signatures(model: SiteModel) -> None:
    amend = model.authorisations[("approval", "PMA-T-001")]
    [change] = amend.changes
    assert change.action == "amend" and change.used_by == model.items[SCOPE].versions[1].index
    assert [(s.name, s.role, s.valid, s.algorithm) for s in amend.signatures] == [
        ("smki-pma.example/chair", "pma-chair", True, "Ed25519"),
        ("smki-pma.example/member-c", "pma-member-c", True, "Ed25519"),
    ]
    assert (amend.pma_signatures, amend.threshold, amend.policy_version) == (2, 2, 1)
    rejected = model.authorisations[("approval", "PMA-T-004")]
    assert rejected.approval is not None and not rejected.approval.authorises
    assert rejected.changes[0].used_by is None
    lodged = model.authorisations[("lodgement", "LDG-T-0001")]
    assert all(c.action == "lodge" and c.used_by is not None for c in lodged.changes)


def test_the_policy_history_and_log_records(model: SiteModel, sample_site: BuiltSite) -> None:
    [policy] = model.policies
    assert policy.index == 0 and policy.policy.threshold == 2
    assert [s.valid for s in policy.signatures] == [True, True]
    assert len(model.records) == len(sample_site.inputs.replay.entries)
    first = model.records[0]
    assert first.type == "policy" and json.loads(first.pretty)["version"] == 1


@pytest.mark.parametrize(
    ("path", "family", "kind"),
    [
        ("items/documents/a.md", "documents", "markdown"),
        ("items/documents/A.MARKDOWN", "documents", "markdown"),
        ("items/documents/a.pdf", "documents", "file"),
        ("items/certificates/ca/root.pem", "certificates/ca", "certificate"),
        ("items/certificates/device/d.der", "certificates/device", "certificate"),
        ("items/crls/crl.pem", "crls", "crl"),
    ],
)
def test_item_kind(path: str, family: str, kind: str) -> None:
    assert item_kind(path, family) == kind


@pytest.mark.parametrize("name", ["a.md", "a.tar.gz", ".hidden", "noext"])
def test_item_stem(name: str) -> None:
    item = Item(f"items/documents/{name}", "documents", "file", (), ())
    assert item.stem == {"a.md": "a", "a.tar.gz": "a.tar", ".hidden": ".hidden",
                         "noext": "noext"}[name]  # fmt: skip


def test_signatures_are_checked_one_by_one() -> None:
    chair, member = key("pma-chair"), key("pma-member-c")
    note = parse_note(sign_note('smki-approval/v1\nid = "X"\n', [chair, member]))
    good, other = note.signatures
    forged = Note(note.text, (Signature(good.name, good.key_id, bytes(64)), other))
    seen = {s.line: 7 for s in (*note.signatures, *forged.signatures)}
    views = check_signatures(forged, [chair.verifier()], [], seen)
    assert [(v.name, v.valid, v.algorithm) for v in views] == [
        ("smki-pma.example/chair", False, "Ed25519"),
        ("smki-pma.example/member-c", None, None),  # not a key of the policy given: unknown
    ]
    again = check_signatures(note, [chair.verifier(), member.verifier()], [], seen)
    assert [v.valid for v in again] == [True, True] and again[1].index == 7


# -- facts and their cache -------------------------------------------------------------


@pytest.mark.parametrize(
    "facts",
    [
        CertificateFacts(None, "t", "pem", "0A", "", "CN=x", "AB", "CD", ("device", "E", ""), "DS",
                         "00-00", None, False, "no well-defined expiry", 2),
        CertificateFacts("bad DER", "Unparseable certificate"),
        CrlFacts(None, "CRL", "der", "CN=x", None, "2025", None, 3,
                 (RevokedFacts("0A", "2025", "keyCompromise"),)),
        DocumentFacts(None, "Title", ("a.md", "b.md#x"), "<p>x</p>"),
        DocumentFacts("not UTF-8"),
    ],
)
def test_facts_survive_the_cache(facts: CertificateFacts | CrlFacts | DocumentFacts,
                                 tmp_path: Path) -> None:  # fmt: skip
    kind = {CertificateFacts: "certificate", CrlFacts: "crl", DocumentFacts: "markdown"}
    cache = {"ab": {"kind": kind[type(facts)], "facts": json.loads(json.dumps(dump_facts(facts)))}}
    store = ObjectFacts(tmp_path, cache, {})
    loaded = {"certificate": store.certificate, "crl": store.crl, "markdown": store.document}[
        kind[type(facts)]
    ]("ab")
    assert loaded == facts and not store.added
    assert dump_facts(facts) == json.loads(json.dumps(dataclasses.asdict(facts)))  # as JSON


@pytest.mark.parametrize(
    "damage",
    [
        {"title": 7},
        {"serial": ["0A"]},
        {"lint_errors": True},
        {"sibling": "device"},
        {"extra": 1},
    ],
)
def test_a_damaged_cache_entry_is_recomputed(damage: dict[str, object], samples: Path,
                                             tmp_path: Path) -> None:  # fmt: skip
    data = (samples / "org-supplier-90b3d51f30010000-ds.pem").read_bytes()
    (tmp_path / "ab").write_bytes(data)
    good = ObjectFacts(tmp_path, {}, {}).certificate("ab")
    entry = dump_facts(good) | damage
    store = ObjectFacts(tmp_path, {"ab": {"kind": "certificate", "facts": entry}}, {})
    assert store.certificate("ab") == good and store.added == ["ab"]


# -- certificate cross-references --------------------------------------------------------------


def test_issuers_chains_siblings_and_revocations(model: SiteModel, sample_site: BuiltSite) -> None:
    facts = ObjectFacts(sample_site.out / "objects", {}, {})
    pki = pki_links(model, facts)
    supplier = pki.certificates[(SUPPLIER_DS, 1)]
    assert supplier.issuer.status == "verified" and supplier.issuer.ref is not None
    assert supplier.issuer.ref.item == "items/certificates/ca/issuing-oca.pem"
    assert [r.item for r in supplier.chain] == [
        "items/certificates/ca/issuing-oca.pem", "items/certificates/ca/root-oca.pem",
    ]  # fmt: skip
    assert [r.item for r in supplier.siblings] == [SUPPLIER_KA]
    assert supplier.revocations == ()
    root = pki.certificates[("items/certificates/ca/root-oca.pem", 1)]
    assert root.issuer.status == "self-signed" and root.chain == ()
    wan = pki.certificates[(WAN_DS, 1)]
    assert [(r.crl.item, r.reason) for r in wan.revocations] == [(CRL2, "keyCompromise")]
    crl = pki.crls[(CRL2, 1)]
    assert crl.issuer.status == "verified"
    assert [c.item for row in crl.revoked for c in row.certificates] == [WAN_DS]
    assert pki.certificates[(BROKEN, 1)].issuer.status == "no-aki"


# -- resuming the walk ------------------------------------------------------------------------


def story_replays(tmp_path: Path) -> list[Replay]:
    """The replay after each commit of the sample story that builds (the unapproved
    edit alone does not)."""
    repo = sample_repository(tmp_path / "content")
    commits = subprocess.run(["git", "-C", str(repo.path), "rev-list", "--reverse", "HEAD"],
                             check=True, capture_output=True, text=True).stdout.split()  # fmt: skip
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(work)], check=True)
    replays = []
    for n, commit in enumerate(commits):
        subprocess.run(["git", "-C", str(work), "reset", "-q", "--hard", commit], check=True)
        with contextlib.suppress(GovernanceError):
            replays.append(publish_log(work, tmp_path / f"out-{n}", tmp_path / f"w-{n}").replay)
    return replays


def same_model(a: SiteModel, b: SiteModel) -> bool:
    """The same model; and the same state, where both walks gave one to keep."""

    def fields(m: SiteModel) -> tuple[object, ...]:
        return (dataclasses.replace(m, records=()), list(m.records), m.entries)

    return fields(a) == fields(b) and (a.state is None or b.state is None or a.state == b.state)


@pytest.mark.parametrize("rewrite_work", [model_module.STATE_REWRITE_WORK, 0])
def test_a_resumed_walk_gives_the_model_of_a_whole_walk(
    tmp_path: Path, rewrite_work: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 0 every resumed walk gives its state, which must be the whole walk's."""
    monkeypatch.setattr(model_module, "STATE_REWRITE_WORK", rewrite_work)
    replays = story_replays(tmp_path)
    assert len(replays) >= 4
    models = [collect_model(r) for r in replays]
    assert all(m.state is not None for m in models)  # a walk from nothing keeps its state
    for later in range(len(replays)):
        for earlier in range(later + 1):
            state = json.loads(json.dumps(models[earlier].state))
            resumed = collect_model(replays[later], state)
            assert same_model(resumed, models[later]), (earlier, later)
            if rewrite_work == 0:
                assert resumed.state == models[later].state
            else:  # the story is far smaller than the work worth a new state
                assert resumed.state is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: {**s, "leaves": "0" * 64},  # another log
        lambda s: {**s, "size": 10**6},  # longer than the log
        lambda s: {**s, "versions": {"items/x": [[1, 2]]}},
        lambda s: {**s, "policies": [1]},  # not a policy entry
        lambda s: {**s, "used": [["p", ["nonsense"], 1]]},
        lambda s: {k: v for k, v in s.items() if k != "notes"},
        lambda s: {**s, "live": {"a": 7}},
        lambda s: [],
    ],
)
def test_a_state_of_another_log_or_damaged_is_not_used(tmp_path: Path, damage: Any) -> None:
    replays = story_replays(tmp_path)
    early, late = collect_model(replays[0]), collect_model(replays[-1])
    resumed = collect_model(replays[-1], damage(json.loads(json.dumps(early.state))))
    assert same_model(resumed, late)
