"""The lookup index: its strict shard format, its keys, and the incremental writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.client.lookup import (
    ITEM,
    MAX_SHARD_SIZE,
    SHA256,
    SIZE_PATH,
    entry_keys,
    format_shard,
    lookup,
    parse_shard,
    path_key,
    shard_path,
    update_index,
)
from generator.errors import PublishError
from generator.repository.content import POLICY_PATH
from generator.repository.entries import Entry
from generator.tlog.errors import MalformedError
from generator.tlog.store import DirStore
from tests.client.sites import A1, A2, B1, B2, A, B, C, story
from tests.repository.gitrepo import ContentRepo, sha

H = "abcd" + "0" * 60
H2 = "abcd" + "f" * 60
ELSEWHERE = "abe0" + "0" * 60


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", None),
        (f"{H} 0 5 99\n", None),
        (f"{H} 1\n{H2} 2\n", None),
        (f"{H} 1", "newline"),
        (f"{H} 05\n", "not '<sha256 hex>"),
        (f"{H}  5\n", "not '<sha256 hex>"),
        (f"{H} 5 \n", "not '<sha256 hex>"),
        (f"{H}\n", "not '<sha256 hex>"),
        (f"{H.upper()} 5\n", "not '<sha256 hex>"),
        (f"{H} -1\n", "not '<sha256 hex>"),
        (f"{H} 1\n\n", "not '<sha256 hex>"),
        (f"{H} 1\r\n", "not '<sha256 hex>"),
        (f"{ELSEWHERE} 1\n", "belongs in another shard"),
        (f"{H2} 1\n{H} 2\n", "not sorted"),
        (f"{H} 1\n{H} 2\n", "not sorted"),
        (f"{H} 5 1\n", "not ascending"),
        (f"{H} 5 5\n", "not ascending"),
        (f"{H} 100\n", "beyond the log's 100 entries"),
        (f"{H} {'9' * 20}\n", "not '<sha256 hex>"),
    ],
)
def test_parse_shard_is_strict(data: str | bytes, problem: str | None) -> None:
    raw = data.encode() if isinstance(data, str) else data
    path = shard_path(SHA256, H)
    if problem is None:
        shard = parse_shard(raw, path, 100)
        assert format_shard(shard) == raw
    else:
        with pytest.raises(MalformedError, match=problem) as caught:
            parse_shard(raw, path, 100)
        assert "index/sha256/abc" in str(caught.value)


def test_parse_shard_is_bounded() -> None:
    line = f"{H} 1\n".encode()
    with pytest.raises(MalformedError, match="larger than"):
        parse_shard(line * (MAX_SHARD_SIZE // len(line) + 1), shard_path(SHA256, H), 10)


def test_shard_paths() -> None:
    assert shard_path(SHA256, H) == "sha256/abc"
    assert shard_path(ITEM, path_key(A)) == f"item/{path_key(A)[:3]}"
    with pytest.raises(ValueError):
        shard_path(SHA256, "../" + H[3:])
    with pytest.raises(ValueError):
        shard_path("other", H)


@pytest.fixture(scope="module")
def entries(tmp_path_factory: pytest.TempPathFactory) -> list[Entry]:
    repo = ContentRepo(tmp_path_factory.mktemp("lookup") / "content")
    story(repo)
    return list(repo.replay().entries)


def test_every_entry_is_indexed_under_what_it_touches(
    entries: list[Entry], tmp_path: Path
) -> None:
    store = DirStore(tmp_path)
    assert update_index(store, entries) == len(entries) == 12
    size = len(entries)
    assert lookup(store, SHA256, sha(A1), size) == [4]
    assert lookup(store, SHA256, sha(A2), size) == [6]
    assert lookup(store, SHA256, sha(B2), size) == [9]  # the violation's new version
    assert lookup(store, SHA256, sha(b"never logged"), size) == []
    assert lookup(store, ITEM, path_key(A), size) == [4, 6]
    assert lookup(store, ITEM, path_key(B), size) == [2, 9, 11]  # lodge, violation, ratify
    assert lookup(store, ITEM, path_key(C), size) == [3, 8]  # lodge, withdraw
    assert lookup(store, ITEM, path_key(POLICY_PATH), size) == [0]
    assert lookup(store, ITEM, path_key("approvals/PMA-3.note"), size) == [10]
    assert lookup(store, ITEM, path_key("lodgements/LDG-0.note"), size) == [1]
    assert store.read(SIZE_PATH) == b"12\n"
    assert entry_keys(entries[11], lambda v: B) == [(ITEM, path_key(B))]
    assert sha(B1) not in {k for _, k in entry_keys(entries[9], lambda v: "")}


class RecordingStore(DirStore):
    """A DirStore that records the paths written, and can fail after ``fail_after`` writes."""

    def __init__(self, root: Path, fail_after: int | None = None) -> None:
        super().__init__(root)
        self.written: list[str] = []
        self.fail_after = fail_after

    def write(self, path: str, data: bytes) -> None:
        if self.fail_after is not None and len(self.written) >= self.fail_after:
            raise OSError("disk full")
        self.written.append(path)
        super().write(path, data)


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_incremental_update_rewrites_only_new_entries_shards(
    entries: list[Entry], tmp_path: Path
) -> None:
    update_index(DirStore(tmp_path / "all"), entries)
    store = RecordingStore(tmp_path / "steps")
    update_index(store, entries[:8])
    store.written.clear()
    assert update_index(store, entries) == 4
    expected = {shard_path(k, key) for e in entries[8:] for k, key in entry_keys(e, lambda v: B)}
    assert set(store.written) == expected | {SIZE_PATH}
    assert store.written[-1] == SIZE_PATH
    assert tree(tmp_path / "steps") == tree(tmp_path / "all")
    store.written.clear()
    assert update_index(store, entries) == 0
    assert store.written == [], "an update with nothing new wrote files"


def test_interrupted_update_is_completed_by_the_next(
    entries: list[Entry], tmp_path: Path
) -> None:
    update_index(DirStore(tmp_path / "all"), entries)
    with pytest.raises(OSError):
        update_index(RecordingStore(tmp_path / "index", fail_after=5), entries)
    assert not (tmp_path / "index" / SIZE_PATH).exists()
    update_index(DirStore(tmp_path / "index"), entries)
    assert tree(tmp_path / "index") == tree(tmp_path / "all")


def test_index_larger_than_the_log_is_refused(
    entries: list[Entry], tmp_path: Path
) -> None:
    store = DirStore(tmp_path)
    update_index(store, entries)
    with pytest.raises(PublishError, match="covers 12 entries but the log has 5"):
        update_index(store, entries[:5])
