"""CI scaffolding that ``smki init`` writes into a new content repository.

GitHub Actions is the worked example (``templates/ci/``): a pull-request gate, a
publish workflow on push to main, and a daily re-check of the live site. The
same three steps run from GitLab CI or cron (docs/publishing.md).
"""

from __future__ import annotations

from pathlib import Path

from generator import __version__
from generator.errors import UsageError
from generator.resources import templates_dir

WORKFLOWS = ("smki-check.yml", "smki-publish.yml", "smki-recheck.yml")
GITIGNORE = ".smki/\nsite/\n.site.lock\n.smki-stage-*\n"
DEFAULT_TOOL = f"smki-transparency=={__version__}"


def workflow_text(name: str, *, content: str, site_url: str, tool: str) -> str:
    """The text of one workflow, filled in for this repository."""
    template = (templates_dir() / "ci" / name).read_text()
    for value in (content, site_url, tool):
        if any(c in value for c in "\"'\n\\$`"):
            raise UsageError(f"{value!r}: quotes, $, backslashes and newlines are not allowed")
    return (
        template.replace("@@CONTENT@@", content)
        .replace("@@SITE_URL@@", site_url.rstrip("/"))
        .replace("@@TOOL@@", tool)
    )


def write_ci(top: Path, content: str, *, site_url: str, tool: str = DEFAULT_TOOL) -> list[Path]:
    """Write the workflows under ``top/.github/workflows`` and a ``.gitignore``; return them."""
    written = []
    folder = top / ".github" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOWS:
        path = folder / name
        if not path.exists():
            path.write_text(workflow_text(name, content=content, site_url=site_url, tool=tool))
            written.append(path)
    ignore = top / ".gitignore"
    if not ignore.exists():
        ignore.write_text(GITIGNORE)
        written.append(ignore)
    return written
