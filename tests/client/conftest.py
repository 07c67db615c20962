"""Sites shared by the relying-party tests: built once per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.client.sites import Site, SiteServer, make_site, story
from tests.repository.gitrepo import ContentRepo

DEVICES = [f"items/certificates/device/00db1234567{n:05x}-ds.pem" for n in range(300)]


def many_devices(repo: ContentRepo) -> None:
    """Genesis lodging 300 device certificates: 302 entries, so full and partial tiles."""
    repo.genesis({path: f"device {path}\n" for path in DEVICES})


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The story site (12 entries) as an honest publisher builds it."""
    return make_site(tmp_path_factory.mktemp("genuine"), story)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """A site of 302 entries: a full level-0 tile, partial tiles at levels 0 and 1."""
    return make_site(tmp_path_factory.mktemp("large"), many_devices)


@pytest.fixture
def server(genuine: Site) -> Iterator[SiteServer]:
    """The genuine site served over HTTP on 127.0.0.1."""
    with SiteServer(genuine.root) as server:
        yield server
