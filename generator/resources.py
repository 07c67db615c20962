"""Where the built-in theme and CI templates are, installed or not.

A wheel ships ``templates/`` as ``generator.templates`` (a namespace package: the
folder has no ``__init__.py``); an editable install (``pip install -e .``) runs
from the source tree, where it is the ``templates/`` folder beside ``generator/``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def templates_dir() -> Path:
    """The built-in templates folder (Jinja2 theme, ``static/`` assets, ``ci/`` workflows)."""
    try:
        spec = importlib.util.find_spec("generator.templates")
    except ModuleNotFoundError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parent.parent / "templates"
