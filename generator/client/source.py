"""Where a relying party reads a published site from: a folder, or an http(s) URL.

A source is named by its **log prefix**, the site's ``log/`` folder or URL (the
one that holds ``checkpoint``). The item objects, the lookup index and the
evidence are its siblings: ``../objects/<sha256>``, ``../index/…`` and
``../evidence/…``. Nothing but those published
files is read. Every read is bounded in size; HTTP reads also in time, with
retries (:class:`~generator.tlog.store.HTTPStore`).
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
from pathlib import Path

from generator.client.evidence import EVIDENCE_DIR, MAX_EVIDENCE_SIZE
from generator.client.lookup import INDEX_DIR, MAX_SHARD_SIZE
from generator.repository.content import MAX_ITEM_SIZE
from generator.tlog.errors import NotFound, TransportError, VerificationError
from generator.tlog.store import CHECKPOINT_PATH, DirStore, HTTPStore, TileStore, check_path

OBJECTS_DIR = "objects"
"""The folder of item objects in the site: ``objects/<sha256>`` holds those exact bytes."""

_SHA256 = re.compile(r"[0-9a-f]{64}")


class _BoundedDir:
    """Files in a folder, each read whole up to ``max_bytes`` (objects outgrow the tile caps)."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root, self.max_bytes = root, max_bytes

    def read(self, path: str) -> bytes:
        """The file at ``path`` under the folder, at most ``max_bytes`` long."""
        file = os.path.join(self.root, check_path(path))
        try:
            with open(file, "rb") as handle:
                data = handle.read(self.max_bytes + 1)
        except FileNotFoundError:
            raise NotFound(f"{file}: no such file") from None
        except OSError as error:
            raise TransportError(f"{file}: {error.strerror or error}") from None
        if len(data) > self.max_bytes:
            raise TransportError(f"{file}: larger than {self.max_bytes:,} bytes")
        return data


class Source:
    """A published site, read through its log prefix: the log, its objects and its index.

    ``timeout`` bounds each HTTP request in seconds (however slowly a server
    sends); failed connections and HTTP 5xx are retried ``retries`` times.
    """

    def __init__(self, prefix: str, *, timeout: float = 10.0, retries: int = 2) -> None:
        self.prefix = prefix
        self.log: TileStore
        self.objects: TileStore
        self.index: TileStore
        self.evidence: TileStore
        if prefix.startswith(("http://", "https://")):
            base = prefix if prefix.endswith("/") else prefix + "/"
            parts = urllib.parse.urlsplit(base)
            if parts.query or parts.fragment:
                raise ValueError(f"a log prefix URL has no query or fragment: {prefix!r}")
            site = urllib.parse.urljoin(base, "../")

            def http(url: str, cap: int | None) -> HTTPStore:
                return HTTPStore(url, timeout=timeout, retries=retries, max_bytes=cap)

            self.log = http(base, None)
            self.objects = http(site + OBJECTS_DIR + "/", MAX_ITEM_SIZE)
            self.index = http(site + INDEX_DIR + "/", MAX_SHARD_SIZE)
            self.evidence = http(site + EVIDENCE_DIR + "/", MAX_EVIDENCE_SIZE)
        else:
            log = Path(prefix).resolve()
            self.log = DirStore(log)
            self.objects = _BoundedDir(log.parent / OBJECTS_DIR, MAX_ITEM_SIZE)
            self.index = _BoundedDir(log.parent / INDEX_DIR, MAX_SHARD_SIZE)
            self.evidence = _BoundedDir(log.parent / EVIDENCE_DIR, MAX_EVIDENCE_SIZE)

    def checkpoint(self) -> bytes:
        """The log's signed checkpoint, as served (not verified here)."""
        try:
            return self.log.read(CHECKPOINT_PATH)
        except NotFound as error:
            raise NotFound(f"{error} (is {self.prefix} the site's log/ folder?)") from None

    def object(self, sha256: str) -> bytes:
        """The bytes of ``objects/<sha256>``, which must hash to that name."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a lower-case hex SHA-256: {sha256[:70]!r}")
        data = self.objects.read(sha256)
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise VerificationError(
                f"{OBJECTS_DIR}/{sha256} holds other bytes (SHA-256 {actual}): "
                "the site serves a file that is not the logged one"
            )
        return data
