"""Publishing (issue 6) with real git: an origin, clones for lodger/PMA/CI, real builds."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.build import build
from generator.cli import main
from generator.errors import HistoryError, PublishError, UnauthorisedChange
from generator.publish import PublishLock
from generator.repository.authorisation import Change
from generator.scaffold import WORKFLOWS, workflow_text
from generator.serve import make_server
from generator.site.search import SEARCH_CACHE
from generator.tlog.checker import check_log
from generator.tlog.note import parse_verifier
from generator.tlog.store import DirStore
from tests.repository.gitrepo import KEYS, ContentRepo, sha

A = "items/documents/a.md"
LOG_KEY = KEYS / "log.key"
VKEY = parse_verifier((KEYS / "log.vkey").read_text())


def tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` with its bytes."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def key(tmp_path: Path) -> Path:
    """A log key named after ContentRepo's origin."""
    from generator.tlog.note import generate_signer

    path = tmp_path / "log.key"
    path.write_text(generate_signer("smki.example/test-log").skey + "\n")
    return path


def clone(origin: Path, where: Path, *, depth: int | None = None) -> ContentRepo:
    """A clone of ``origin`` driven as a ContentRepo."""
    args = [
        "git",
        "clone",
        "-q",
        *(["--depth", str(depth)] if depth else []),
        f"file://{origin}",
        str(where),
    ]
    subprocess.run(args, check=True, capture_output=True)
    repo = ContentRepo.__new__(ContentRepo)
    repo.path, repo.clock = where, 1_800_000_000
    return repo


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare origin whose main has a genesis commit."""
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    maintainer = ContentRepo(tmp_path / "maintainer")
    maintainer.genesis({A: "# A\n"})
    maintainer.git("push", "-q", str(bare), "main")
    return bare


def check_output(repo: ContentRepo) -> tuple[int, str]:
    """Run `smki check` in ``repo``; return its exit code and output."""
    result = CliRunner().invoke(main, ["check", "--content", str(repo.path)])
    return result.exit_code, result.output


def test_pull_request_fully_signed_passes_and_publishes(origin: Path, tmp_path: Path, key: Path):
    pma = clone(origin, tmp_path / "pma")
    pma.write(A, "# A, amended\n")
    pma.approval("PMA-1", [Change("amend", A, sha(b"# A\n"), sha(b"# A, amended\n"))])
    pma.commit("amend, approved 2-of-3")
    assert check_output(pma)[0] == 0
    pma.git("push", "-q", "origin", "main")
    ci = clone(origin, tmp_path / "ci")
    report = build(ci.path, tmp_path / "site", key_file=key)
    assert report.entries == 5 and report.appended == 5
    check_log(DirStore(tmp_path / "site" / "log"), report.key.signer.verifier())


def test_one_signature_short_names_approval_and_threshold(origin: Path, tmp_path: Path):
    pma = clone(origin, tmp_path / "pma")
    pma.write(A, "# A, amended\n")
    pma.approval(
        "PMA-1", [Change("amend", A, sha(b"# A\n"), sha(b"# A, amended\n"))], ("pma-chair",)
    )
    pma.commit("one signature only")
    summary = tmp_path / "summary.md"
    result = CliRunner().invoke(
        main, ["check", "--content", str(pma.path), "--summary", str(summary)]
    )
    assert result.exit_code == 1
    assert "approval PMA-1 has 1 valid PMA signature(s), needs 2" in result.output
    text = summary.read_text()
    assert "| PMA-1 |" in text and "1 more needed" in text and "member-b" in text


def test_unapproved_edit_fails(origin: Path, tmp_path: Path):
    lodger = clone(origin, tmp_path / "lodger")
    lodger.write(A, "# A, quietly edited\n")
    lodger.commit("edit")
    code, output = check_output(lodger)
    assert code == 1 and "amend without authorisation" in output


def test_lodgement_by_key_not_allowed_for_path_fails(tmp_path: Path):
    repo = ContentRepo(tmp_path / "repo")
    repo.policy(
        lodgers={"lodger-dcc": ["items/certificates/**"], "lodger-secas": ["items/documents/**"]}
    )
    repo.write(A, "# A\n")
    repo.lodgement("LDG-0", [A], "lodger-secas")
    repo.commit("genesis")
    repo.write("items/documents/b.md", "# B\n")
    repo.lodgement("LDG-1", ["items/documents/b.md"], "lodger-dcc")
    repo.commit("lodged by the wrong lodger")
    code, output = check_output(repo)
    assert code == 1 and "not signed by a lodger allowed for items/documents/b.md" in output


def test_force_push_rewrite_is_refused_and_site_kept(origin: Path, tmp_path: Path, key: Path):
    ci = clone(origin, tmp_path / "ci")
    site = tmp_path / "site"
    build(ci.path, site, key_file=key)
    before = tree(site)
    maintainer = clone(origin, tmp_path / "m2")
    maintainer.write(A, "# A, rewritten genesis\n")
    maintainer.lodgement("LDG-0", [A])
    maintainer.git("add", "-A")
    maintainer.git("commit", "-q", "--amend", "-m", "rewritten")
    maintainer.git("push", "-q", "--force", "origin", "main")
    ci.git("fetch", "-q", "origin")
    ci.git("reset", "-q", "--hard", "origin/main")
    with pytest.raises(PublishError, match=r"history rewrite.*first difference at entry 0"):
        build(ci.path, site, key_file=key)
    assert tree(site) == before


def test_published_url_is_checked_over_http(origin: Path, tmp_path: Path, key: Path):
    ci = clone(origin, tmp_path / "ci")
    live = tmp_path / "live"
    build(ci.path, live, key_file=key)
    server = make_server(live, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        build(ci.path, tmp_path / "fresh", key_file=key, published=url)
        ci.write(A, "# A, unlogged rewrite\n")
        ci.lodgement("LDG-0", [A])
        ci.git("add", "-A")
        ci.git("commit", "-q", "--amend", "-m", "rewritten")
        with pytest.raises(PublishError, match="history rewrite"):
            build(
                ci.path,
                tmp_path / "fresh2",
                key_file=key,
                published=url,
                state_dir=tmp_path / "state2",
            )
    finally:
        server.shutdown()
        server.server_close()


def test_never_signs_inconsistent_with_its_own_record(origin: Path, tmp_path: Path, key: Path):
    ci = clone(origin, tmp_path / "ci")
    state = tmp_path / "state"
    build(ci.path, tmp_path / "one", key_file=key, state_dir=state)
    ci.write(A, "# A, rewritten\n")
    ci.lodgement("LDG-0", [A])
    ci.git("add", "-A")
    ci.git("commit", "-q", "--amend", "-m", "rewritten")
    with pytest.raises(PublishError, match="signed"):
        build(ci.path, tmp_path / "two", key_file=key, state_dir=state)
    assert not (tmp_path / "two").exists()


def test_lock_held_fails_cleanly(origin: Path, tmp_path: Path, key: Path):
    ci = clone(origin, tmp_path / "ci")
    site = tmp_path / "site"
    with PublishLock(site), pytest.raises(PublishError, match="another publisher holds"):
        build(ci.path, site, key_file=key)
    assert not site.exists()
    build(ci.path, site, key_file=key)  # released: the next publish works


def test_concurrent_publishes_never_both_write(origin: Path, tmp_path: Path, key: Path):
    ci = clone(origin, tmp_path / "ci")
    site = tmp_path / "site"
    cmd = [
        sys.executable,
        "-m",
        "generator.cli",
        "build",
        "--content",
        str(ci.path),
        "--out",
        str(site),
        "--log-key",
        str(key),
    ]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    ok = [code for code, _ in results if code == 0]
    assert ok, results
    for code, err in results:
        assert code == 0 or "another publisher holds" in err, err
    check_log(DirStore(site / "log"), parse_verifier(build_vkey(key)))


def build_vkey(key: Path) -> str:
    """The verifier key of a log key file."""
    from generator.keys import read_signer

    return read_signer(key).verifier().vkey


def test_sigkill_at_random_points_leaves_a_complete_site(origin: Path, tmp_path: Path, key: Path):
    ci = clone(origin, tmp_path / "ci")
    site = tmp_path / "site"
    build(ci.path, site, key_file=key)
    for i in range(30):
        ci.write(f"items/documents/n{i}.md", f"# {i}\n")
        ci.lodgement(f"LDG-{i + 1}", [f"items/documents/n{i}.md"])
        ci.commit(f"lodge {i}")
    verifier = parse_verifier(build_vkey(key))
    rng = random.Random(1234)
    cmd = [
        sys.executable,
        "-m",
        "generator.cli",
        "build",
        "--content",
        str(ci.path),
        "--out",
        str(site),
        "--log-key",
        str(key),
    ]
    sizes = set()
    for _ in range(12):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 1.2))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        report = check_log(DirStore(site / "log"), verifier)  # a complete site, always
        sizes.add(report.size)
        assert {"log", "objects"} <= {p.name for p in site.iterdir()}
    assert sizes <= {3, 3 + 2 * 30}
    final = build(ci.path, site, key_file=key)
    assert final.entries == 63


def test_shallow_clone_is_refused(origin: Path, tmp_path: Path, key: Path):
    shallow = clone(origin, tmp_path / "shallow", depth=1)
    with pytest.raises(HistoryError, match="fetch-depth: 0"):
        build(shallow.path, tmp_path / "site", key_file=key)


def test_unauthorised_change_writes_nothing(origin: Path, tmp_path: Path, key: Path):
    ci = clone(origin, tmp_path / "ci")
    site = tmp_path / "site"
    build(ci.path, site, key_file=key)
    before = tree(site)
    ci.write(A, "# A, unapproved\n")
    ci.commit("unapproved")
    with pytest.raises(UnauthorisedChange, match="amend without authorisation"):
        build(ci.path, site, key_file=key)
    assert tree(site) == before


def test_rebuild_unchanged_rewrites_nothing(origin: Path, tmp_path: Path, key: Path):
    ci = clone(origin, tmp_path / "ci")
    site = tmp_path / "site"
    build(ci.path, site, key_file=key)
    stat = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in site.rglob("*") if p.is_file()}
    report = build(ci.path, site, key_file=key)
    assert report.appended == 0
    assert {
        p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in site.rglob("*") if p.is_file()
    } == stat


def test_two_machines_build_identical_bytes(origin: Path, tmp_path: Path, key: Path):
    one = clone(origin, tmp_path / "one")
    two = clone(origin, tmp_path / "two")
    build(one.path, tmp_path / "site1", key_file=key, state_dir=tmp_path / "s1")
    build(two.path, tmp_path / "site2", key_file=key, state_dir=tmp_path / "s2")
    one_tree, two_tree = tree(tmp_path / "site1"), tree(tmp_path / "site2")
    # the search cache records this machine's file identities (inodes), not page bytes
    assert one_tree.pop(SEARCH_CACHE) and two_tree.pop(SEARCH_CACHE)
    assert one_tree == two_tree


def _smki_calls(run: str) -> list[list[str]]:
    calls = []
    for line in run.splitlines():
        words = line.split()
        if words[:1] == ["smki"]:
            calls.append(words[1:])
    return calls


@pytest.mark.parametrize("name", WORKFLOWS)
def test_workflows_parse_and_call_real_commands(name: str):
    text = workflow_text(
        name,
        content="content",
        site_url="https://example.org/smki",
        tool="smki-transparency==0.1.0",
    )
    workflow = yaml.safe_load(text)
    assert workflow["permissions"] == {"contents": "read"}
    calls = []
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            uses = step.get("uses", "")
            if uses:
                ref = uses.split("@", 1)[1]
                assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), uses
            if "actions/checkout" in uses:
                assert step["with"]["fetch-depth"] == 0
            calls += _smki_calls(step.get("run", ""))
            assert "SMKI_LOG_KEY }}" not in step.get("run", "")  # only ever in env
    assert calls
    for call in calls:
        command = main.commands[call[0]]
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        for word in call[1:]:
            if word.startswith("--"):
                assert word in options, f"{name}: smki {call[0]} has no option {word}"


def test_init_writes_workflows_that_parse(tmp_path: Path):
    vkey = (KEYS / "pma-chair.vkey").read_text().strip()
    result = CliRunner().invoke(
        main,
        [
            "init",
            str(tmp_path / "new"),
            "--origin",
            "example.org/log",
            "--pma",
            vkey,
            "--threshold",
            "1",
            "--site-url",
            "https://example.org/smki/",
        ],
    )
    assert result.exit_code == 0, result.output
    for name in WORKFLOWS:
        text = (tmp_path / "new" / ".github" / "workflows" / name).read_text()
        assert 'https://example.org/smki"' in text or name == "smki-check.yml"
        yaml.safe_load(text)
    assert ".smki/" in (tmp_path / "new" / ".gitignore").read_text()


def test_log_key_never_appears_in_output(origin: Path, tmp_path: Path, key: Path):
    ci = clone(origin, tmp_path / "ci")
    secret = key.read_text().strip()
    result = CliRunner().invoke(
        main,
        ["build", "--content", str(ci.path), "--out", str(tmp_path / "site"),
         "--state", str(tmp_path / "state")],
        env={"SMKI_LOG_KEY": secret},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # PRIVATE+KEY+<name>+<id>+<base64 key>: the base64 itself may hold (or end with) "+"
    material = secret.split("+", 4)[4]
    assert material and secret not in result.output and material not in result.output
    blob = material.encode()
    for path in (tmp_path / "site").rglob("*"):
        if path.is_file():
            assert blob not in path.read_bytes(), path
    assert "development" not in result.output  # the key from the environment was used


def test_serve_applies_the_headers_file(origin: Path, tmp_path: Path, key: Path):
    import urllib.request

    ci = clone(origin, tmp_path / "ci")
    site = tmp_path / "site"
    build(ci.path, site, key_file=key)
    server = make_server(site, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        with urllib.request.urlopen(base + "log/checkpoint") as response:
            assert "no-cache" in (response.headers["Cache-Control"] or "")
        with urllib.request.urlopen(base + "index.html") as response:
            assert "default-src" in (response.headers["Content-Security-Policy"] or "")
        tile = next(p for p in (site / "log" / "tile").rglob("*") if p.is_file())
        with urllib.request.urlopen(base + tile.relative_to(site).as_posix()) as response:
            assert "immutable" in (response.headers["Cache-Control"] or "")
    finally:
        server.shutdown()
        server.server_close()
