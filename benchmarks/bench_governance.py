"""Benchmark: governance replay + log build of a large content repository (issue 3).

Makes (with git fast-import) a content repository of 100,000 device
certificates lodged over 100 commits plus 50 documents, then measures, on one
process, medians of:

* the floor: reading every blob of the history once (``git cat-file --batch``)
  and hashing it — work any replay must do;
* a full replay + log build (``smki build`` without the site stage);
* a further commit of 1,000 certificates built on top (incremental: resumed from
  the replay snapshot the previous build kept, authenticated with the log key and
  checked against the published checkpoint).

Targets: full ≤ 60 s; the further commit ≤ 5 s. Items are synthetic PEM-like
text (the content does not matter to governance or the log). Run:

    python benchmarks/bench_governance.py [--certs 100000] [--commits 100] [--runs 1]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generator.build import build  # noqa: E402
from generator.repository.authorisation import (  # noqa: E402
    LodgedItem,
    Lodgement,
    format_manifest,
    lodgement_text,
)
from generator.repository.policy import policy_text  # noqa: E402
from generator.tlog.note import parse_signer, sign_note  # noqa: E402

KEYS = ROOT / "tests" / "keys"


def key(name: str):  # type: ignore[no-untyped-def]
    return parse_signer((KEYS / f"{name}.key").read_text())


def vkey(name: str) -> str:
    return (KEYS / f"{name}.vkey").read_text().strip()


class FastImport:
    """Writes a git fast-import stream: one commit at a time, files given as bytes."""

    def __init__(self, repo: Path) -> None:
        self.proc = subprocess.Popen(
            ["git", "fast-import", "--quiet"], cwd=repo, stdin=subprocess.PIPE
        )
        self.clock = 1_700_000_000

    def commit(self, message: str, files: dict[str, bytes]) -> None:
        assert self.proc.stdin is not None
        out = self.proc.stdin
        self.clock += 3600
        msg = message.encode()
        out.write(b"commit refs/heads/main\n")
        out.write(f"committer Bench <bench@example.org> {self.clock} +0000\n".encode())
        out.write(b"data %d\n%s\n" % (len(msg), msg))
        for path, data in files.items():
            out.write(f"M 100644 inline {path}\n".encode())
            out.write(b"data %d\n%s\n" % (len(data), data))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        if self.proc.wait() != 0:
            raise RuntimeError("git fast-import failed")


def cert(n: int) -> bytes:
    body = hashlib.sha256(str(n).encode()).hexdigest() * 10
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode()


def lodgement(note_id: str, items: dict[str, bytes], signer: str) -> dict[str, bytes]:
    lodged = [LodgedItem(p, hashlib.sha256(d).hexdigest()) for p, d in sorted(items.items())]
    if len(lodged) > 100:
        manifest = format_manifest(lodged)
        text = lodgement_text(
            Lodgement(note_id, None, (), hashlib.sha256(manifest).hexdigest())
        )
        extra = {f"lodgements/{note_id}.manifest": manifest}
    else:
        text = lodgement_text(Lodgement(note_id, None, tuple(lodged), None))
        extra = {}
    return {f"lodgements/{note_id}.note": sign_note(text, [key(signer)]), **extra}


def make_repo(repo: Path, certs: int, commits: int, docs: int) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    policy = policy_text(
        version=1,
        origin="smki.example/sample-log",
        threshold=2,
        pma=[(vkey(k), k) for k in ("pma-chair", "pma-member-b", "pma-member-c")],
        lodgers=[
            (vkey("lodger-dcc"), "DCC", ["items/certificates/**", "items/crls/**"]),
            (vkey("lodger-secas"), "SECAS", ["items/documents/**"]),
        ],
    )
    stream = FastImport(repo)
    documents = {
        f"items/documents/doc-{i:03d}.md": f"# Document {i}\n\nText.\n".encode()
        for i in range(docs)
    }
    stream.commit(
        "genesis",
        {
            "policy.note": sign_note(policy, [key("pma-chair"), key("pma-member-b")]),
            **documents,
            **lodgement("LDG-DOCS", documents, "lodger-secas"),
        },
    )
    per = certs // commits
    for c in range(commits):
        items = {
            f"items/certificates/device/{n:07d}-ds.pem": cert(n)
            for n in range(c * per, (c + 1) * per)
        }
        batch = {**items, **lodgement(f"LDG-{c:04d}", items, "lodger-dcc")}
        stream.commit(f"lodge batch {c}", batch)
    stream.close()
    subprocess.run(["git", "checkout", "-q", "main"], cwd=repo, check=True)


def floor(repo: Path) -> float:
    """Seconds to read and hash every blob of the history once."""
    start = time.perf_counter()
    blobs = subprocess.run(
        "git rev-list --objects --all | git cat-file --batch-check='%(objecttype) %(objectname)'"
        " | awk '$1==\"blob\" {print $2}' | git cat-file --batch",
        shell=True, cwd=repo, capture_output=True, check=True,
    ).stdout
    hashlib.sha256(blobs).digest()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certs", type=int, default=100_000)
    parser.add_argument("--commits", type=int, default=100)
    parser.add_argument("--docs", type=int, default=50)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smki-bench-") as tmp:
        base = Path(tmp)
        repo = base / "repo"
        t = time.perf_counter()
        make_repo(repo, args.certs, args.commits, args.docs)
        print(f"made {args.certs} certificates over {args.commits} commits + {args.docs} "
              f"documents in {time.perf_counter() - t:.1f} s")
        floors, fulls, increments = [], [], []
        for run in range(args.runs):
            floors.append(floor(repo))
            out, state = base / f"site{run}", base / f"state{run}"
            t = time.perf_counter()
            report = build(repo, out, key_file=KEYS / "log.key", state_dir=state, site=False)
            fulls.append(time.perf_counter() - t)
            entries = report.entries
            items = {
                f"items/certificates/device/{n:07d}-ka.pem": cert(n + 10_000_000)
                for n in range(1000 * run, 1000 * (run + 1))
            }
            for path, data in {**items, **lodgement(f"LDG-X{run}", items, "lodger-dcc")}.items():
                (repo / path).parent.mkdir(parents=True, exist_ok=True)
                (repo / path).write_bytes(data)
            env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x",
                   "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@x"}
            subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
            subprocess.run(["git", "commit", "-qm", "1,000 more"], cwd=repo, check=True, env=env)
            t = time.perf_counter()
            report = build(repo, out, key_file=KEYS / "log.key", state_dir=state, site=False)
            increments.append(time.perf_counter() - t)
            assert report.appended == 1001, report.appended
        full, inc, flo = (statistics.median(x) for x in (fulls, increments, floors))
        print(f"floor (read + hash every blob once): {flo:.2f} s")
        print(f"full replay + log build, {entries} entries: {full:.2f} s "
              f"({full / flo:.1f}x floor; target <= 60 s)")
        print(f"further commit of 1,000 certificates: {inc:.2f} s "
              f"({inc / full:.1%} of the full build; target <= 5 s)")


if __name__ == "__main__":
    main()
