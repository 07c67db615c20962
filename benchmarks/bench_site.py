"""Benchmark of the site stage (generator.site). A script, not a test.

    python benchmarks/bench_site.py [--documents N] [--certificates N] [--repeats R]
                                    [--dir DIR] [--no-mkdocs]

Makes a content repository (git, in ``--dir``) of N synthetic Markdown documents
that link to each other and about N synthetic GBCS certificates (tools/sample_pki.py:
the four CAs, twelve organisation certificates, device certificates, three CRLs),
all lodged in one commit through a manifest, publishes its log with
``build(site=False)``, then times the site stage on one process and prints each
figure (the median of ``--repeats`` runs) beside its target:

* full build: every page written into an output holding only the log and objects,
  in HTML pages per second (target ≥ 1,000 pages/s);
* MkDocs: the same documents built by ``mkdocs build`` (installed in a venv under
  ``--dir``, never a project dependency) against the site stage of a repository of
  those documents only, run alternately (target ≥ 5× faster; also given on CPU time,
  which other work on the machine disturbs less);
* rebuild with nothing changed (target ≤ 10 % of the full build), and the whole
  ``build()`` (replay, log and site) for comparison;
* one amended document (a PMA approval and the new version in one commit): the site
  stage after the log stage appended it, the median of ``--repeats`` such commits
  (target ≤ 1 s plus the pages that change, at the full build's rate);
* page weight of an item version page: HTML, CSS and JavaScript (target ≤ 50 KB).

Each timed full build, ours and MkDocs', writes into a new output folder rather than
one just emptied, and the MkDocs comparison runs first, before any ``build()`` has
retired a staged site: on ext4 without a journal (as on the project's VM) the inode
allocator steps, one by one, over every inode freed in the last one to six minutes,
so a build made just after deleting many files pays for the deletion, quadratically
in the number of files it creates. The copies are deleted at the end, so leave a
few minutes before the next run on the same file system (one started four minutes
after another's clean-up ran its documents 1.6 times slower).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generator.build import build, site_inputs  # noqa: E402
from generator.repository.authorisation import Change  # noqa: E402
from generator.site.render import SiteInputs, SiteReport, render_site  # noqa: E402
from generator.tlog.note import generate_signer  # noqa: E402
from tests.repository.gitrepo import DCC, ContentRepo, sha  # noqa: E402

ORIGIN = "smki.example/test-log"  # the origin of ContentRepo's policy


def sample_pki() -> ModuleType:
    """tools/sample_pki.py, imported by path (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("sample_pki", ROOT / "tools" / "sample_pki.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sample_pki"] = module  # dataclasses look their module up while defined
    spec.loader.exec_module(module)
    return module


def document(n: int, count: int, revision: int = 1) -> str:
    """A synthetic SMKI-style document of about 3 KB that links to two others."""
    a, b = (n % count) + 1, ((n * 7) % count) + 1
    rows = "\n".join(
        f"| 1.{r} | 20{10 + r}-0{1 + r % 9}-1{r % 9} | Approved by the PMA | Clause {r}.{n % 7} |"
        for r in range(revision + 3)
    )
    sections = "\n\n".join(
        f"## {s} Section {s} of document {n}\n\n"
        f"{s}.1 The DCC shall keep the SMKI Repository available to every Party that "
        f"reasonably requires it (Section L5.{s}). Certificates are lodged under clause "
        f"{s}.2 and every change needs the express approval of the SMKI PMA.\n\n"
        f"{s}.2 See [document {a}](doc-{a:05d}.md#{s}-section-{s}-of-document-{a}) and "
        f"[document {b}](doc-{b:05d}.md).\n\n"
        "- Certificates are searched by serial number, EUI-64 and role.\n"
        "- Each CRL is a new item in its series.\n"
        "- Device certificates have no well-defined expiry.\n"
        for s in range(1, 6)
    )
    return (
        f"# SMKI Document {n}\n\n"
        f"| Version | Date | Status | Change |\n|---|---|---|---|\n{rows}\n\n"
        f"{sections}\n```text\nsmki verify FILE --log SITE/log/ --key KEY\n```\n"
    )


def doc_path(n: int) -> str:
    return f"items/documents/doc-{n:05d}.md"


def make_repository(path: Path, documents: int, certificates: int) -> ContentRepo:
    """A content repository with the documents and certificates, lodged in one commit."""
    repo = ContentRepo(path)
    repo.policy(lodgers={DCC: ["items/**"]}, pma_lodge=())
    paths = []
    for n in range(1, documents + 1):
        repo.write(doc_path(n), document(n, documents))
        paths.append(doc_path(n))
    if certificates:
        pki = sample_pki()
        with tempfile.TemporaryDirectory() as tmp:
            devices = max(0, (certificates - 16) // 2)
            pki.build_pki(Path(tmp), devices=devices)
            for file in sorted(Path(tmp).rglob("*.pem")):
                relative = file.relative_to(tmp).as_posix().replace("crls-later/", "crls/")
                repo.write(f"items/{relative}", file.read_bytes())
                paths.append(f"items/{relative}")
    repo.lodgement("LDG-BENCH-0001", paths, manifest=True)
    repo.commit("lodge the benchmark repository")
    return repo


def amend(repo: ContentRepo, documents: int, revision: int = 2) -> None:
    """Amend document 1 to ``revision`` with a PMA approval, in one commit."""
    old = repo.read(doc_path(1))
    new = repo.write(doc_path(1), document(1, documents, revision=revision))
    repo.approval(f"PMA-BENCH-{revision - 1:04d}",
                  [Change("amend", doc_path(1), sha(old), sha(new))])  # fmt: skip
    repo.commit(f"amend document 1 (revision {revision})")


def log_key(work: Path) -> Path:
    """A log key file for :data:`ORIGIN` in ``work`` (made once)."""
    path = work / "log.key"
    if not path.exists():
        path.write_text(generate_signer(ORIGIN).skey + "\n")
    return path


def publish_log(content: Path, out: Path, state: Path) -> SiteInputs:
    """The log stage only (build without the site); the site stage's inputs."""
    key = log_key(content.parent)
    report = build(content, out, key_file=key, state_dir=state, site=False)
    return site_inputs(report)


def fresh_outputs(out: Path, count: int) -> list[Path]:
    """``out``, which holds only the log stage, and ``count - 1`` hard-linked copies of it:
    one output for each timed full build (see the module notes)."""
    copies = [out.with_name(f"{out.name}-run{n}") for n in range(1, count)]
    for copy in copies:
        shutil.copytree(out, copy, copy_function=os.link)
    return [out, *copies]


def timed(action: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def cpu_seconds(*, children: bool = False) -> float:
    """CPU time (user and system) used so far by this process, or by its waited-for children."""
    t = os.times()
    return t.children_user + t.children_system if children else t.user + t.system


def html_pages(out: Path) -> int:
    return sum(1 for _ in out.rglob("*.html"))


def mkdocs_project(work: Path, docs: int) -> tuple[Path, Path] | str:
    """The ``mkdocs`` command and a project of the same documents, or why it is missing."""
    venv = work / "mkdocs-venv"
    mkdocs = venv / "bin" / "mkdocs"
    if not mkdocs.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True,
                           capture_output=True)  # fmt: skip
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "mkdocs"], check=True,
                           capture_output=True, timeout=600)  # fmt: skip
        except (subprocess.SubprocessError, OSError) as error:
            return f"mkdocs could not be installed: {error}"
    project = work / "mkdocs-project"
    shutil.rmtree(project, ignore_errors=True)
    (project / "docs").mkdir(parents=True)
    (project / "mkdocs.yml").write_text("site_name: SMKI documents\nuse_directory_urls: false\n")
    for n in range(1, docs + 1):
        (project / "docs" / f"doc-{n:05d}.md").write_text(document(n, docs))
    (project / "docs" / "index.md").write_text("# SMKI documents\n")
    return mkdocs, project


def mkdocs_build(mkdocs: Path, project: Path, site: Path) -> tuple[float, float]:
    """Seconds and CPU seconds ``mkdocs build`` takes to build ``project`` into ``site``."""
    cpu = cpu_seconds(children=True)
    command = [str(mkdocs), "build", "-q", "-d", str(site)]
    run = functools.partial(subprocess.run, command, cwd=project, check=True, capture_output=True)
    seconds, _ = timed(run)
    return seconds, cpu_seconds(children=True) - cpu


def site_build(inputs: SiteInputs, out: Path) -> tuple[float, float]:
    """Seconds and CPU seconds the site stage takes to build ``inputs`` into ``out``."""
    cpu = cpu_seconds()
    seconds, _ = timed(functools.partial(render_site, inputs, out))
    return seconds, cpu_seconds() - cpu


def page_weight(out: Path, page: Path) -> int:
    """Bytes of an HTML page plus every style sheet and script it references."""
    html = page.read_text()
    total = len(page.read_bytes())
    for name in sorted((out / "static").iterdir()):
        if f"static/{name.name}" in html:
            total += name.stat().st_size
    return total


def line(label: str, value: str, target: str = "") -> None:
    print(f"  {label:<46} {value:>16}   {target}")


def mkdocs_comparison(work: Path, documents: int, repeats: int) -> None:
    """Time our site stage and ``mkdocs build`` on the same documents, alternately."""
    docs_repo = work / "docs-content"
    make_repository(docs_repo, documents, 0)
    docs_inputs = publish_log(docs_repo, work / "docs-site", work / "docs-state")
    docs_outputs = fresh_outputs(work / "docs-site", repeats)
    setup = mkdocs_project(work, documents)
    ours, theirs = [], []
    for n, docs_out in enumerate(docs_outputs):  # alternately: both see the same load
        ours.append(site_build(docs_inputs, docs_out))
        if not isinstance(setup, str):
            theirs.append(mkdocs_build(*setup, setup[1] / f"site-{n}"))
    mine, mine_cpu = (statistics.median(run[k] for run in ours) for k in (0, 1))
    print(f"the same {documents} documents (median of {repeats} runs each)")
    line("smki site stage", f"{mine:.2f} s",
         f"{mine_cpu:.2f} s CPU, {html_pages(docs_outputs[0]):,} HTML pages")  # fmt: skip
    if isinstance(setup, str):
        line("mkdocs build", "not run", setup)
    else:
        mk, mk_cpu = (statistics.median(run[k] for run in theirs) for k in (0, 1))
        line("mkdocs build", f"{mk:.2f} s",
             f"{mk_cpu:.2f} s CPU, {html_pages(setup[1] / 'site-0'):,} HTML pages")  # fmt: skip
        line("ratio (mkdocs / smki)", f"{mk / mine:.1f}x", "target >= 5x")
        line("  on CPU time", f"{mk_cpu / mine_cpu:.1f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--certificates", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="Work folder (default: a temporary one).")
    parser.add_argument("--no-mkdocs", action="store_true", help="Skip the MkDocs comparison.")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="smki-bench-site-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder {work}")
    for name in ("content", "site", "docs-content", "docs-site", "state", "docs-state"):
        for path in (work / name, *work.glob(f"{name}-run*")):
            shutil.rmtree(path, ignore_errors=True)

    if not args.no_mkdocs:  # first, before the benchmark has deleted anything (module notes)
        mkdocs_comparison(work, args.documents, args.repeats)
    seconds, repo = timed(lambda: make_repository(work / "content", args.documents,
                                                  args.certificates))  # fmt: skip
    print(f"repository: {args.documents} documents, ~{args.certificates} certificates "
          f"({seconds:.1f} s to generate)")
    out = work / "site"
    seconds, inputs = timed(lambda: publish_log(work / "content", out, work / "state"))
    print(f"log stage (replay, log, objects): {seconds:.1f} s")
    assert isinstance(inputs, SiteInputs)

    fulls = []
    report: SiteReport | None = None
    outputs = fresh_outputs(out, args.repeats)
    for output in outputs:
        seconds, result = timed(functools.partial(render_site, inputs, output))
        fulls.append(seconds)
        report = result  # type: ignore[assignment]
    assert report is not None
    full = statistics.median(fulls)
    pages = html_pages(out)
    rate = pages / full
    print("site stage, one process (median of", args.repeats, "runs)")
    line("full build", f"{full:.2f} s")
    line("HTML pages", f"{pages:,}")
    line("all files written", f"{report.outputs:,}")
    line("full build rate", f"{rate:,.0f} pages/s", "target >= 1,000 pages/s")

    noops = [timed(lambda: render_site(inputs, out))[0] for _ in range(args.repeats)]
    noop = statistics.median(noops)
    line("rebuild, nothing changed", f"{noop:.2f} s")
    line("  as a share of the full build", f"{100 * noop / full:.1f} %", "target <= 10 %")
    whole = statistics.median(
        timed(lambda: build(work / "content", out, key_file=log_key(work),
                            state_dir=work / "state"))[0]
        for _ in range(args.repeats)
    )
    line("whole build() with nothing changed", f"{whole:.2f} s", "(replay + log + site)")

    amends, changes = [], []
    for revision in range(2, 2 + args.repeats):  # each a new commit amending document 1
        amend(repo, args.documents, revision)  # type: ignore[arg-type]
        amended = publish_log(work / "content", out, work / "state")
        seconds, result = timed(lambda: render_site(amended, out))  # noqa: B023 (called now)
        assert isinstance(result, SiteReport)
        amends.append(seconds)
        changes.append((result.written + result.unchanged, result.written))
    seconds = statistics.median(amends)
    changed, written = max(changes)
    line(f"one amended document (median of {args.repeats})", f"{seconds:.2f} s")
    line("  files re-made / written", f"{changed:,} / {written:,}")
    budget = 1 + changed / (report.outputs / full)
    line("  target: 1 s + re-made files at full rate", f"{budget:.2f} s",
         "met" if seconds <= budget else "NOT met")  # fmt: skip

    doc_page = out / "items/documents/doc-00002.md/v1/index.html"
    cert_page = next((out / "items/certificates/device").glob("*-ds.pem")) / "v1" / "index.html"
    pages_weighed = (("document version page", doc_page), ("certificate version page", cert_page))
    for label, page in pages_weighed:
        line(f"page weight, {label}", f"{page_weight(out, page) / 1024:.1f} KB",
             "target <= 50 KB (HTML + CSS + JS)")  # fmt: skip

    for copy in (*work.glob("*-run[0-9]*"), *work.glob("mkdocs-project/site-*")):
        shutil.rmtree(copy)  # the copies of fresh_outputs() and MkDocs' sites
    return 0


if __name__ == "__main__":
    sys.exit(main())
