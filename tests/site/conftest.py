"""Fixtures of the site tests: the sample repository, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.site.sitebuild import BuiltSite, build_site, sample_repository


@pytest.fixture(scope="session")
def sample_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    """The site of :func:`tests.site.sitebuild.sample_repository` (read-only: do not write)."""
    work: Path = tmp_path_factory.mktemp("sample-site")
    repo = sample_repository(work / "content")
    return build_site(repo.path, work)
