"""Where the built-in theme and CI templates are, installed or not.

A wheel ships ``templates/`` as the package ``generator.templates``; an editable
install (``pip install -e .``) runs from the source tree, where it is the
``templates/`` folder beside ``generator/``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def templates_dir() -> Path:
    """The built-in templates folder (Jinja2 theme, ``static/`` assets, ``ci/`` workflows)."""
    try:
        found = resources.files("generator.templates")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "templates"
    return Path(str(found))
