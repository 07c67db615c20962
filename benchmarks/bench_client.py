"""Benchmark: the relying-party tools on a log of a million entries (issue 5).

Makes (with git fast-import, as bench_governance.py does) a content repository
whose log has about 1,000,000 entries — device certificates lodged through
manifests in 100 commits — builds the log (``build(..., site=False)``: replay,
tiles, objects, lookup index), serves it on 127.0.0.1 and measures:

* ``smki verify`` of one file over loopback HTTP, as a fresh process (interpreter
  start included): wall time and HTTP requests, medians over several files
  (targets: <= 6 requests, <= 0.5 s);
* ``smki audit`` of the whole log from scratch, from the folder (target: within
  3x the build of that log);
* ``smki audit`` after 1,000 and after 10,000 further entries (target: cost in
  proportion to the new entries), with the incremental build for comparison.

Run (about half an hour and 10 GB of disk at the default size):

    python benchmarks/bench_client.py [--certs 999900] [--commits 100] [--files 7]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_governance import FastImport, cert, key, lodgement, vkey  # noqa: E402

from generator.build import build  # noqa: E402
from generator.repository.policy import policy_text  # noqa: E402
from generator.tlog.note import sign_note  # noqa: E402

KEYS = ROOT / "tests" / "keys"
VKEY = (KEYS / "log.vkey").read_text().strip()
SMKI = shutil.which("smki", path=str(Path(sys.executable).parent)) or "smki"


class CountingServer:
    """A static server for ``root`` on 127.0.0.1 that counts the requests it answers."""

    def __init__(self, root: Path) -> None:
        self.requests: list[str] = []
        requests = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

            def log_message(self, format: str, *args: object) -> None:
                requests.append(self.path)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.log = f"http://127.0.0.1:{self.httpd.server_address[1]}/log/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def timed(action: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def smki(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SMKI, *args], capture_output=True, text=True, check=False)


def device(n: int) -> str:
    """The path of certificate ``n``: 10,000 to a folder, as git trees stay small."""
    return f"items/certificates/device/{n // 10_000:04d}/{n:07d}-ds.pem"


def make_repo(repo: Path, certs: int, commits: int) -> None:
    """Genesis (the policy), then ``commits`` commits lodging ``certs`` certificates."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    policy = policy_text(
        version=1, origin="smki.example/sample-log", threshold=2,
        pma=[(vkey(k), k) for k in ("pma-chair", "pma-member-b", "pma-member-c")],
        lodgers=[(vkey("lodger-dcc"), "DCC", ["items/certificates/**"])],
    )
    stream = FastImport(repo)
    stream.commit("genesis", {"policy.note": sign_note(policy, [key("pma-chair"),
                                                               key("pma-member-b")])})
    per = certs // commits
    for c in range(commits):
        items = {device(n): cert(n) for n in range(c * per, (c + 1) * per)}
        stream.commit(f"lodge batch {c}", {**items, **lodgement(f"LDG-{c:04d}", items,
                                                                 "lodger-dcc")})
    stream.close()
    subprocess.run(["git", "checkout", "-q", "main"], cwd=repo, check=True)


def add_commit(repo: Path, first: int, count: int) -> None:
    """Commit ``count`` more certificates (numbers from ``first``) with their lodgement."""
    items = {device(n): cert(n) for n in range(first, first + count)}
    for path, data in {**items, **lodgement(f"LDG-X{first}", items, "lodger-dcc")}.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(data)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@x"}
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", f"{count} more"], cwd=repo, check=True, env=env)


def audit(prefix: str, state: Path) -> tuple[float, dict[str, object]]:
    seconds, done = timed(lambda: smki("audit", "--log", prefix, "--key", VKEY, "--state",
                                       str(state), "--json"))
    assert isinstance(done, subprocess.CompletedProcess)
    report = json.loads(done.stdout)
    if not report["ok"]:
        raise SystemExit(f"audit failed: {report}")
    return seconds, report


def line(label: str, value: str, note: str = "") -> None:
    print(f"{label:<52} {value:>14}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certs", type=int, default=999_900)
    parser.add_argument("--commits", type=int, default=100)
    parser.add_argument("--files", type=int, default=7, help="files verified (median)")
    parser.add_argument("--work", type=Path, help="keep the repository and site here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="smki-bench-client-"))
    repo, out = work / "repo", work / "site"
    if not repo.exists():
        seconds, _ = timed(lambda: make_repo(repo, args.certs, args.commits))
        print(f"made the repository in {seconds:.0f} s")
    if not out.exists():
        seconds, report = timed(lambda: build(repo, out, key_file=KEYS / "log.key",
                                              state_dir=work / "record", site=False))
        (work / "build-seconds").write_text(f"{seconds}\n")
    built = float((work / "build-seconds").read_text())
    size = int((out / "log/checkpoint").read_text().split("\n")[1])
    line("log entries", f"{size:,}")
    line("build of the log (replay, tiles, objects, index)", f"{built:.1f} s")

    server = CountingServer(out)
    step = args.certs // args.files
    walls, requests = [], []
    held = work / "held.pem"
    for n in range(step // 2, args.certs, step)[: args.files]:
        held.write_bytes(cert(n))
        server.requests.clear()
        seconds, done = timed(lambda: smki("verify", str(held), "--log", server.log,
                                           "--key", VKEY))
        assert isinstance(done, subprocess.CompletedProcess)
        if done.returncode != 0:
            raise SystemExit(f"verify failed: {done.stdout}{done.stderr}")
        walls.append(seconds)
        requests.append(len(server.requests))
        print(f"  verify certificate {n}: {seconds:.3f} s, {len(server.requests)} requests: "
              + " ".join(server.requests))
    line("smki verify over HTTP, median wall (incl. start)",
         f"{statistics.median(walls):.3f} s", "target <= 0.5 s")
    line("smki verify over HTTP, median requests", f"{statistics.median(requests):.0f}",
         f"target <= 6 (min {min(requests)}, max {max(requests)})")
    seconds, _ = timed(lambda: smki("--version"))
    line("  of which: interpreter start (smki --version)", f"{seconds:.3f} s")

    state = work / "state"
    shutil.rmtree(state, ignore_errors=True)
    full, report = audit(str(out / "log"), state)
    line("smki audit from scratch (folder)", f"{full:.1f} s",
         f"{full / built:.2f}x the build (target <= 3x); {report['objects_checked']:,} objects, "
         f"{report['shards_checked']:,} shards")
    for count in (1_000, 10_000):
        add_commit(repo, 20_000_000 + count, count - 1)  # + its lodgement note
        inc_build, _ = timed(lambda: build(repo, out, key_file=KEYS / "log.key",
                                           state_dir=work / "record", site=False))
        seconds, report = audit(str(out / "log"), state)
        new = int(str(report["new_entries"]))
        line(f"incremental audit after {new:,} entries", f"{seconds:.2f} s",
             f"{seconds / new * 1e6:.0f} us/entry vs {full / size * 1e6:.0f} us/entry from "
             f"scratch; incremental build {inc_build:.1f} s")


if __name__ == "__main__":
    main()
