"""A non-editable install ships the theme, the static files and the CI templates."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from generator.resources import templates_dir
from tests.conftest import ROOT


def test_wheel_ships_every_template(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    source = templates_dir()
    wanted = {
        "generator/templates/" + p.relative_to(source).as_posix()
        for p in source.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert wanted and wanted <= names, sorted(wanted - names)
    assert "generator/cli.py" in names and "generator/tlog/note.py" in names
