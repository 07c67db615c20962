"""Sites for the relying-party tests: content repositories published as the build publishes
them, served over HTTP on 127.0.0.1, and the logs a dishonest publisher could sign instead."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from generator.client.evidence import EVIDENCE_DIR, update_evidence
from generator.client.lookup import INDEX_DIR, update_index
from generator.client.source import OBJECTS_DIR
from generator.repository.authorisation import Approval, Change, approval_text
from generator.repository.entries import AmendEntry, Entry, NoteEntry, encode_entry
from generator.repository.history import GitHistory
from generator.repository.replay import replay_history, require_clean
from generator.tlog.note import Signer, format_note, generate_signer, parse_note, sign_note
from generator.tlog.pins import PinnedCheckpoints
from generator.tlog.reader import LogReader
from generator.tlog.store import DirStore
from generator.tlog.writer import LogWriter, append_entries
from tests.repository.gitrepo import ContentRepo, key, sha

ORIGIN = "smki.example/test-log"  # ContentRepo's policy names this log origin
SIGNER = generate_signer(ORIGIN)
VKEY = SIGNER.verifier().vkey
OTHER_SIGNER = generate_signer(ORIGIN)  # same name, another key

A = "items/documents/a.md"
B = "items/certificates/organisation/b.pem"
C = "items/crls/c.pem"
D = "items/documents/d.md"
A1, A2 = b"# A\n", b"# A, amended\n"
B1, B2 = b"B, first\n", b"B, edited without approval\n"
C1, D1 = b"C\n", b"# D\n"
A3 = b"# A, amended by the publisher alone\n"


def story(repo: ContentRepo) -> None:
    """Lodge A, B, C; amend A and withdraw C under approvals; edit B unapproved, then ratify it."""
    repo.genesis({A: A1, B: B1, C: C1})
    repo.approval("PMA-1", [Change("amend", A, sha(A1), sha(A2))])
    repo.write(A, A2)
    repo.commit("amend A under PMA-1")
    repo.approval("PMA-2", [Change("withdraw", C, sha(C1), None)])
    repo.delete(C)
    repo.commit("withdraw C under PMA-2")
    repo.write(B, B2)
    incident = repo.commit("edit B without approval")
    repo.approval("PMA-3", [Change("ratify", B, sha(B1), sha(B2), incident)])
    repo.commit("the PMA ratifies the edit of B")


def lodge_d(repo: ContentRepo) -> None:
    """One more commit: lodge D."""
    repo.write(D, D1)
    repo.lodgement("LDG-1", [D])
    repo.commit("lodge D")


@dataclass(frozen=True)
class Site:
    """A published site and what made it."""

    root: Path
    repo: ContentRepo
    entries: tuple[Entry, ...]

    @property
    def log(self) -> str:
        """The site's log prefix as a folder."""
        return str(self.root / "log")


def publish(repo: ContentRepo, out: Path, *, evidence: bool = False) -> Site:
    """Publish ``repo`` as ``smki build`` does, pages aside: extend the log in ``out/log``,
    write ``out/objects``, update ``out/index`` and, with ``evidence``, ``out/evidence``
    (tests/client/test_real_build.py runs the real build). Without evidence a relying
    party proves everything from the tiles."""
    with GitHistory(repo.path) as history:
        replay = replay_history(history)
        require_clean(replay)
        writer = LogWriter(DirStore(out / "log"), SIGNER)
        writer.append([encode_entry(e) for e in replay.entries[writer.size :]])
        writer.commit()
        objects = DirStore(out / OBJECTS_DIR)
        for sha256, blob in replay.objects.items():
            if not objects.exists(sha256):
                objects.write(sha256, history.read_blob(blob))
    update_index(DirStore(out / INDEX_DIR), replay.entries)
    if evidence:
        reader = LogReader(DirStore(out / "log"), SIGNER.verifier())
        pins = PinnedCheckpoints(reader, SIGNER, replay.ends)
        encoded = [encode_entry(e) for e in replay.entries]
        update_evidence(DirStore(out / EVIDENCE_DIR), replay.entries, encoded, pins,
                        DirStore(out / INDEX_DIR))
    return Site(out, repo, tuple(replay.entries))


def make_site(
    tmp: Path, *steps: Callable[[ContentRepo], None], name: str = "site", evidence: bool = False
) -> Site:
    """A new content repository in ``tmp`` taken through ``steps``, published in ``tmp/name``."""
    repo = ContentRepo(tmp / f"{name}-content")
    for step in steps:
        step(repo)
    return publish(repo, tmp / name, evidence=evidence)


def republish(site: Path, out: Path, entries: Sequence[Entry], signer: Signer = SIGNER) -> Path:
    """A log of ``entries`` signed by ``signer``, with ``site``'s objects and a fresh index:
    what a publisher holding the log key could serve instead of the honest log."""
    shutil.copytree(site / OBJECTS_DIR, out / OBJECTS_DIR)
    append_entries(DirStore(out / "log"), [encode_entry(e) for e in entries], signer)
    update_index(DirStore(out / INDEX_DIR), entries)
    return out


def publisher_amend(site: Site, out: Path, how: str) -> Path:
    """``site`` republished with one more entry, an amend of A to A3, under a bad approval.

    ``how`` says what is wrong with the approval the publisher inserts before it:
    ``forged`` (a PMA signature that does not verify), ``unsigned`` (one PMA
    signature where the policy needs two) or ``other-item`` (it approves a change of B).
    """
    change = Change("amend", A, sha(A2), sha(A3))
    if how == "other-item":
        change = Change("amend", B, sha(B2), sha(A3))
    signers = ["pma-chair"] if how == "unsigned" else ["pma-chair", "pma-member-b"]
    approval = Approval("PMA-9", "SMKI_PMA_FAKE", "2026-01-01", "approved", "SEC L5.6A",
                        "inserted by the publisher", None, (change,))
    note = parse_note(sign_note(approval_text(approval), [key(k) for k in signers]))
    signatures = list(note.signatures)
    if how == "forged":
        signatures[0] = replace(signatures[0], signature=bytes(len(signatures[0].signature)))
    commit, time = "f" * 40, "2026-12-01T00:00:00Z"
    entries = [
        *site.entries,
        NoteEntry(commit, time, "approval", "PMA-9", format_note(note.text, signatures).decode()),
        AmendEntry(commit, time, A, sha(A2), sha(A3), len(A3), len(site.entries)),
    ]
    republish(site.root, out, entries)
    (out / OBJECTS_DIR / sha(A3)).write_bytes(A3)
    return out


def copy_site(site: Path, out: Path) -> Path:
    """A copy of a site to tamper with."""
    shutil.copytree(site, out)
    return out


Behaviour = Callable[[BaseHTTPRequestHandler], None]


class SiteServer:
    """A real HTTP server on 127.0.0.1 serving a folder (``root`` may be swapped at any time).

    ``special`` maps a URL path to a handler that misbehaves instead; every requested
    path is recorded in ``requests``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.special: dict[str, Behaviour] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                server.requests.append(path)
                if path in server.special:
                    server.special[path](self)
                    return
                file = server.root / path.lstrip("/")
                if ".." in path.split("/") or not file.is_file():
                    self.send_error(404)
                    return
                data = file.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The site's root URL."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/"

    @property
    def log(self) -> str:
        """The site's log prefix URL."""
        return self.url + "log/"

    def __enter__(self) -> SiteServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def endless(handler: BaseHTTPRequestHandler) -> None:
    """Send bytes without end (no Content-Length) until the client hangs up."""
    handler.send_response(200)
    handler.end_headers()
    try:
        while True:
            handler.wfile.write(b"x" * 65536)
    except OSError:
        pass


def oversized(handler: BaseHTTPRequestHandler) -> None:
    """Announce a body of 10 GB."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(10 << 30))
    handler.end_headers()


def not_found(handler: BaseHTTPRequestHandler) -> None:
    """Answer 404."""
    handler.send_error(404)
