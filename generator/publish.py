"""Safe publication (DESIGN §3 "publish"): one publisher, build beside, verify, swap.

* :class:`PublishLock` — ``flock`` on ``<out>.lock`` beside the output: one
  publisher at a time. The kernel drops the lock when its holder dies, so a lock
  can never go stale; the holder's pid, host and start time are kept in the file
  for the message another publisher gets.
* :func:`clone_tree` — the new site starts as hard links to the old one: every
  writer in smki replaces files (write to a temporary name, then rename), never
  edits them in place, so the published tree is never touched.
* :func:`swap_in` — ``renameat2(RENAME_EXCHANGE)`` swaps the staged and the
  published directories in one step, so a crash or kill at any moment leaves one
  complete site at the output path.
* :class:`SignedRecord` — the last checkpoint this key signed, kept outside the
  output: the publisher never signs a tree that does not extend it (as Sunlight
  keeps its lock backend).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from generator.errors import PublishError
from generator.files import atomic_write
from generator.tlog.checkpoint import Checkpoint, open_checkpoint
from generator.tlog.note import Signer

STAGE_PREFIX = ".smki-stage-"


def _gnu_tool(name: str) -> str | None:
    path = shutil.which(name)
    if path is None:
        return None
    version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
    return path if "GNU coreutils" in version else None


_GNU_CP = _gnu_tool("cp")
_RM = _gnu_tool("rm")


class PublishLock:
    """An exclusive, crash-safe lock on publishing to ``out``."""

    def __init__(self, out: Path, *, wait: float = 0.0) -> None:
        self.path = out.parent / f".{out.name}.lock"
        self.wait = wait
        self._fd: int | None = None

    def __enter__(self) -> PublishLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "unknown"
                    os.close(fd)
                    raise PublishError(
                        f"another publisher holds {self.path} ({holder}); "
                        "wait for it to finish (a killed publisher releases it at once)"
                    ) from None
                time.sleep(0.05)
        holder = f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}"
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing releases the flock
            self._fd = None


def clone_tree(src: Path, dst: Path) -> None:
    """Recreate ``src`` at ``dst`` as hard links (copies where links are impossible).

    GNU ``cp -al`` does it about twice as fast as a Python loop; the loop is the
    fallback where there is no GNU cp.
    """
    dst.mkdir(parents=True, exist_ok=True)
    if _GNU_CP:
        done = subprocess.run(
            [_GNU_CP, "-al", f"{src}/.", f"{dst}/"], capture_output=True
        )
        if done.returncode == 0:
            return
    for folder, dirs, files in os.walk(src):
        rel = Path(folder).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        dirs.sort()
        for name in files:
            source, target = Path(folder) / name, dst / rel / name
            try:
                os.link(source, target, follow_symlinks=False)
            except OSError:
                shutil.copy2(source, target, follow_symlinks=False)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2_exchange(a: Path, b: Path) -> bool:
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def swap_in(staged: Path, out: Path) -> Path | None:
    """Make ``staged`` the directory at ``out``; return where the old one now is.

    With ``renameat2(RENAME_EXCHANGE)`` (Linux) the swap is one atomic step;
    elsewhere two renames, with :func:`recover` putting a site back if a crash
    falls between them.
    """
    if not out.exists():
        os.rename(staged, out)
        return None
    if _renameat2_exchange(staged, out):
        return staged
    old = out.with_name(f"{STAGE_PREFIX}old-{out.name}")
    os.rename(out, old)
    os.rename(staged, out)
    return old


def recover(out: Path) -> None:
    """Put the previous site back if a non-atomic swap was interrupted."""
    old = out.with_name(f"{STAGE_PREFIX}old-{out.name}")
    if not out.exists() and old.exists():
        os.rename(old, out)


def stale_stages(out: Path) -> Iterator[Path]:
    """Staging folders beside ``out`` left by killed publishers (we hold the lock)."""
    yield from sorted(out.parent.glob(f"{STAGE_PREFIX}*"))


class SignedRecord:
    """The last checkpoint ``signer`` signed for this output, kept in ``state_dir``."""

    def __init__(self, state_dir: Path, signer: Signer) -> None:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in signer.name)
        self.path = state_dir / "signed" / f"{safe}-{signer.key_id:08x}.checkpoint"
        self.signer = signer

    def last(self) -> Checkpoint | None:
        """The recorded checkpoint, verified with the key, or None."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        verifier = self.signer.verifier()
        return open_checkpoint(data, verifier, origin=self.signer.name).checkpoint

    def save(self, signed: bytes) -> None:
        """Record a checkpoint just signed (atomically)."""
        atomic_write(self.path, signed)


def remove_tree(path: Path) -> None:
    """Delete a staging or retired site folder (``rm -rf`` where there is one: faster)."""
    if _RM and subprocess.run([_RM, "-rf", "--", str(path)], capture_output=True).returncode == 0:
        return
    shutil.rmtree(path, ignore_errors=True)


class Stage:
    """A staging folder beside ``out`` (same file system, so the swap is a rename).

    It starts as hard links to ``out``, made by a ``cp -al`` that runs in the
    background from the moment the build takes the lock, so that cloning (the
    largest fixed cost of an incremental build: one link per published file)
    overlaps the replay; :meth:`ready` waits for it. Nothing is written into the
    stage before then, and a clone that fails is redone from scratch. Leaving the
    ``with`` block removes the folder (after a swap it holds the retired site),
    waiting for a removal :meth:`retire` started in the background.
    """

    def __init__(self, out: Path) -> None:
        for stale in stale_stages(out):
            remove_tree(stale)
        self.out = out
        self.path = out.with_name(f"{STAGE_PREFIX}{os.getpid()}-{out.name}")
        self.path.mkdir(parents=True)
        self._cloned = not out.exists()
        self._job: subprocess.Popen[bytes] | None = None
        if not self._cloned and _GNU_CP:
            self._job = subprocess.Popen(
                [_GNU_CP, "-al", f"{out}/.", f"{self.path}/"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )

    def ready(self) -> Path:
        """The stage, once it holds a hard-linked copy of ``out``."""
        if not self._cloned:
            if self._wait() != 0:  # no GNU cp, or it failed: start again
                remove_tree(self.path)
                clone_tree(self.out, self.path)
            self._cloned = True
        return self.path

    def retire(self, old: Path) -> None:
        """Start deleting ``old`` (the site a swap retired) in the background."""
        self._wait()
        if _RM:
            self._job = subprocess.Popen([_RM, "-rf", "--", str(old)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            remove_tree(old)

    def _wait(self) -> int:
        job, self._job = self._job, None
        return 1 if job is None else job.wait()

    def __enter__(self) -> Stage:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._job is not None and not self._cloned:
            self._job.kill()  # a clone nobody will use
        self._wait()
        remove_tree(self.path)
