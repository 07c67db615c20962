"""Benchmark of generator.tlog: build, append, prove, verify. A script, not a test.

    python benchmarks/bench_tlog.py [--quick] [--scale] [--dir DIR] [--repeats R]

Prints each figure (the median of ``--repeats`` runs) beside its target:

* floor: a tight hashlib loop making the 2n SHA-256 calls an n-leaf tree needs
  (n leaf hashes of the 300-byte entries, n node hashes of 65 bytes);
* I/O floor: writing the same bundles and tiles with ``DirStore.write`` and no
  hashing, on the same file system (the part of a build no hashing code can save);
* build: a fresh n-entry log (300-byte entries, appended in batches, signed once),
  run in a fresh process so its peak RSS is its own;
* append: 1,000 entries to the n-entry log and to a 10,000-entry log (open,
  append, sign; the ratio shows the cost does not grow with the log);
* proof: an inclusion proof read from the tiles of the n-entry log, and its check.

``--scale`` adds a 10,000,000-entry build with its peak RSS.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from hashlib import sha256
from pathlib import Path

from generator.tlog.merkle import verify_inclusion
from generator.tlog.note import generate_signer, parse_signer
from generator.tlog.reader import LogReader
from generator.tlog.store import DirStore
from generator.tlog.tiles import ENTRIES, TILE_WIDTH, tile_at, tiles_for_size
from generator.tlog.writer import LogWriter, append_entries

ENTRY_SIZE = 300
BATCH = 65536
FILLER = (sha256(b"bench").digest() * 10)[: ENTRY_SIZE - 8]
SIGNER = generate_signer("bench.example/log")


def entries(start: int, count: int) -> list[bytes]:
    """``count`` distinct 300-byte entries numbered from ``start``."""
    return [i.to_bytes(8, "big") + FILLER for i in range(start, start + count)]


def batches(n: int) -> Iterator[list[bytes]]:
    for start in range(0, n, BATCH):
        yield entries(start, min(BATCH, n - start))


def median(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def hash_floor(n: int) -> float:
    """Seconds for n leaf hashes and n node hashes in the tightest loop hashlib allows."""
    total = 0.0
    for batch in batches(n):
        start = time.perf_counter()
        for entry in batch:
            sha256(b"\x00" + entry).digest()
        total += time.perf_counter() - start
    node = b"\x01" + bytes(64)
    start = time.perf_counter()
    for _ in range(n):
        sha256(node).digest()
    return total + time.perf_counter() - start


def io_floor(n: int, parent: Path) -> float:
    """Seconds to write an n-entry log's bundles and tiles with no hashing."""
    bundle = b"".join(len(e).to_bytes(2, "big") + e for e in entries(0, TILE_WIDTH))
    tile = bytes(TILE_WIDTH * 32)
    root = Path(tempfile.mkdtemp(dir=parent))
    store = DirStore(root)
    start = time.perf_counter()
    for k in range(-(-n // TILE_WIDTH)):
        b = tile_at(ENTRIES, k, n)
        store.write(b.path, bundle[: b.width * (2 + ENTRY_SIZE)])
    for t in tiles_for_size(n):
        store.write(t.path, tile[: t.size])
    elapsed = time.perf_counter() - start
    shutil.rmtree(root)
    return elapsed


def build(root: str, n: int, skey: str) -> tuple[float, float]:
    """Build an n-entry log in ``root``; return (writer seconds, peak RSS in MiB)."""
    writer = LogWriter(DirStore(root), parse_signer(skey))
    elapsed = 0.0
    for batch in batches(n):
        start = time.perf_counter()
        writer.append(batch)
        elapsed += time.perf_counter() - start
    start = time.perf_counter()
    writer.commit()
    elapsed += time.perf_counter() - start
    return elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_in_fresh_process(root: Path, n: int) -> tuple[float, float]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(build, (str(root), n, SIGNER.skey))


def append_time(root: Path) -> float:
    """Seconds to open the log in ``root``, append 1,000 entries and sign."""
    size = LogWriter(DirStore(root), SIGNER).size
    batch = entries(size, 1000)
    start = time.perf_counter()
    append_entries(DirStore(root), batch, SIGNER)
    return time.perf_counter() - start


def proof_times(root: Path, count: int = 1000) -> tuple[float, float, float]:
    """Median seconds per inclusion proof and per check, and the first (cold) proof."""
    reader = LogReader(DirStore(root), SIGNER.verifier())
    tree = reader.checkpoint().checkpoint
    rng = random.Random(1)
    indexes = [rng.randrange(tree.size) for _ in range(count)]
    leaves = [reader.leaf_hashes(i, i + 1)[0] for i in indexes]
    reader = LogReader(DirStore(root), SIGNER.verifier())
    reader.checkpoint()
    start = time.perf_counter()
    reader.inclusion_proof(indexes[0])
    cold = time.perf_counter() - start
    prove, check = [], []
    for index, leaf in zip(indexes, leaves, strict=True):
        start = time.perf_counter()
        proof = reader.inclusion_proof(index)
        prove.append(time.perf_counter() - start)
        start = time.perf_counter()
        verify_inclusion(leaf, index, tree.size, proof, tree.root_hash)
        check.append(time.perf_counter() - start)
    return statistics.median(prove), statistics.median(check), cold


def filesystem(path: Path) -> str:
    """The type of the file system holding ``path`` (from /proc/mounts, where there is one)."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    real = os.path.realpath(path)
    best = max((m for m in mounts if real.startswith(m[1])), key=lambda m: len(m[1]), default=None)
    return best[2] if best else "unknown"


def line(label: str, value: str, note: str = "") -> None:
    print(f"{label:<42}{value:>12}  {note}")


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="n = 100,000 instead of 1,000,000")
    parser.add_argument("--scale", action="store_true", help="also build 10,000,000 entries")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()),
                        help="where to write the logs (default: the system temp dir)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median)")
    args = parser.parse_args()
    n = 100_000 if args.quick else 1_000_000
    runs = args.repeats
    work = Path(tempfile.mkdtemp(prefix="bench-tlog-", dir=args.dir))
    print(f"generator.tlog benchmark: n = {n:,}, {ENTRY_SIZE}-byte entries, median of {runs}, "
          f"logs in {work} ({filesystem(work)})")
    try:
        floor = median(runs, lambda: hash_floor(n))
        line(f"floor: 2n SHA-256 calls, n = {n:,}", f"{floor:.2f} s")
        io = median(runs, lambda: io_floor(n, work))
        line("I/O floor: the same files, no hashing", f"{io:.2f} s")

        builds = []
        for _ in range(runs):
            shutil.rmtree(work / "big", ignore_errors=True)
            builds.append(build_in_fresh_process(work / "big", n))
        seconds = statistics.median(b[0] for b in builds)
        rss = max(b[1] for b in builds)
        line(f"build {n:,} entries", f"{seconds:.2f} s",
             f"{seconds / floor:.2f}x floor (target <= 3x: {verdict(seconds <= 3 * floor)})")
        line("  without the I/O floor", f"{seconds - io:.2f} s",
             f"{(seconds - io) / floor:.2f}x floor")
        line("  peak RSS", f"{rss:.0f} MiB", f"target <= 512 MiB: {verdict(rss <= 512)}")

        big = median(5, lambda: append_time(work / "big"))
        append_entries(DirStore(work / "small"), entries(0, 10_000), SIGNER)
        small = median(5, lambda: append_time(work / "small"))
        line(f"append 1,000 to {n:,}", f"{big * 1e3:.1f} ms",
             f"target <= 100 ms: {verdict(big <= 0.1)}")
        line("append 1,000 to 10,000", f"{small * 1e3:.1f} ms",
             f"ratio {big / small:.2f} (target <= 2: {verdict(big <= 2 * small)})")

        prove, check, cold = proof_times(work / "big")
        line(f"inclusion proof from tiles at {n:,}", f"{prove * 1e3:.3f} ms",
             f"target <= 1 ms: {verdict(prove <= 1e-3)} (first, cold: {cold * 1e3:.2f} ms)")
        line("verify inclusion proof", f"{check * 1e3:.4f} ms",
             f"target <= 0.1 ms: {verdict(check <= 1e-4)}")

        if args.scale:
            shutil.rmtree(work / "big")
            seconds, rss = build_in_fresh_process(work / "scale", 10_000_000)
            scaled = floor * 10_000_000 / n
            line("build 10,000,000 entries", f"{seconds:.1f} s", f"{seconds / scaled:.2f}x floor")
            line("  peak RSS", f"{rss:.0f} MiB", f"target <= 512 MiB: {verdict(rss <= 512)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
