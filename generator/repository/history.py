"""Git history of the content repository: the only module that runs git (DESIGN §3).

The log is a pure function of the *first-parent* history of the content branch, so
everything here walks first parents only and diffs each commit against its first
parent (a root commit against the empty tree; a merge brings the merged branch in
as one change). There is no rename detection: a rename is a delete plus an add.

Git is run as a subprocess with list arguments, ``-z`` output (odd file names
survive), ``LC_ALL=C`` and ``GIT_CONFIG_NOSYSTEM=1``; replace refs are ignored and
optional locks are off, so nothing is written to the repository (only
:func:`ensure_repository`, for ``smki init``, creates one). Paths are
returned exactly as git stores them, relative to the content root, decoded as UTF-8
with ``surrogateescape`` (a non-UTF-8 name round-trips through :func:`os.fsencode`).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
import tempfile
import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO

from generator.errors import ContentError, HistoryError, UsageError

MAX_BLOB_SIZE = 64 * 1024 * 1024
"""Largest blob :meth:`GitHistory.read_blob` returns by default, in bytes (64 MiB)."""

MODE_FILE = "100644"
MODE_EXECUTABLE = "100755"
MODE_SYMLINK = "120000"
MODE_GITLINK = "160000"
"""A submodule entry: its "blob" is a commit id of another repository."""

SHALLOW_MESSAGE = (
    "shallow clone: full history is needed "
    "(git fetch --unshallow, or actions/checkout with fetch-depth: 0)"
)

_GIT_OPTIONS = ("-c", "core.quotepath=off", "-c", "core.precomposeunicode=false")
# Variables a git hook or a wrapper may set that would point git at another repository.
_REPOSITORY_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
)
_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_MODE = re.compile(r"[0-7]{6}")
_HEADER = b"\x01"  # starts each commit record of the log format below
_LOG_FORMAT = "--format=%x01%H %P %ct%x00%B"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Commit:
    """A commit of the first-parent history."""

    id: str  # the full commit id (40 hex; 64 in a SHA-256 repository)
    time: str  # committer time, RFC 3339 UTC: "2026-11-26T12:00:00Z"
    subject: str  # the first line of the message


@dataclass(frozen=True)
class FileChange:
    """One path under the content root whose entry differs from the first parent's."""

    path: str  # POSIX, relative to the content root, as git stores it
    old_mode: str | None  # git mode ("100644", "100755", "120000", "160000"); None if added
    new_mode: str | None  # None if deleted
    old_blob: str | None  # blob id (a commit id for a gitlink); None if added
    new_blob: str | None  # None if deleted

    @property
    def added(self) -> bool:
        """The path did not exist before."""
        return self.old_mode is None

    @property
    def deleted(self) -> bool:
        """The path no longer exists."""
        return self.new_mode is None

    @property
    def modified(self) -> bool:
        """The path exists on both sides and its bytes (blob) changed."""
        return not (self.added or self.deleted) and self.old_blob != self.new_blob

    @property
    def mode_changed(self) -> bool:
        """The path exists on both sides and its mode changed (executable bit, symlink …)."""
        return not (self.added or self.deleted) and self.old_mode != self.new_mode


class GitHistory:
    """Read-only view of the git repository that holds a content folder.

    ``top`` is the repository's top level; ``prefix`` the content root relative to it,
    ``""`` or ending in ``/`` (``"content/"``). Not thread-safe: it keeps one
    ``git cat-file --batch`` process for :meth:`read_blob`; use it as a context manager
    or call :meth:`close`.
    """

    def __init__(self, content_dir: Path) -> None:
        """Find the repository holding ``content_dir``; refuse a shallow clone."""
        folder = Path(content_dir)
        if not folder.is_dir():
            raise HistoryError(f"{folder}: no such folder")
        self._env = _git_env()
        self._cat_file: subprocess.Popen[bytes] | None = None
        self._disk_blobs: dict[str, Path] = {}
        self._file_mode: bool | None = None
        top = self._run(["rev-parse", "--show-toplevel"], cwd=folder)
        self.top = Path(_decode(top.removesuffix(b"\n")))
        self.prefix = _decode(
            self._run(["rev-parse", "--show-prefix"], cwd=folder).removesuffix(b"\n")
        )
        shallow = self._run(["rev-parse", "--is-shallow-repository"], cwd=folder)
        if shallow.strip() == b"true":
            raise HistoryError(f"{self.top}: {SHALLOW_MESSAGE}")

    def __enter__(self) -> GitHistory:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the ``git cat-file`` process, if one is running."""
        proc, self._cat_file = self._cat_file, None
        if proc is None:
            return
        assert proc.stdin is not None and proc.stdout is not None
        with suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    # -- revisions and commits ------------------------------------------------

    def resolve(self, rev: str) -> str:
        """The full id of the commit ``rev`` names."""
        if not rev or rev.startswith("-") or "\n" in rev or "\0" in rev:
            raise HistoryError(f"unknown revision {rev!r}")
        try:
            out = self._run(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"])
        except HistoryError:
            raise HistoryError(f"unknown revision {rev!r}") from None
        return out.decode("ascii").strip()

    def is_first_parent_ancestor(self, ancestor: str, rev: str = "HEAD") -> bool:
        """Report whether ``ancestor`` is ``rev`` or on ``rev``'s first-parent chain."""
        wanted = self.resolve(ancestor)
        head = self.resolve(rev)
        return any(
            line.strip() == wanted.encode()
            for line in self._lines(["rev-list", "--first-parent", head, "--"])
        )

    def first_parent_commits(self, rev: str = "HEAD", since: str | None = None) -> list[Commit]:
        """Every first-parent commit of ``rev`` after ``since``, oldest first."""
        return [commit for commit, _ in self._log(rev, since, raw=False)]

    def content_commits(self, rev: str = "HEAD", since: str | None = None) -> list[Commit]:
        """The first-parent commits after ``since`` that change the content root, oldest first."""
        return [commit for commit, _ in self.changes(rev, since)]

    def changes(
        self, rev: str = "HEAD", since: str | None = None
    ) -> Iterator[tuple[Commit, list[FileChange]]]:
        """Each first-parent commit after ``since`` that changes the content root, with its changes.

        Oldest first; changes are against the commit's first parent (the empty tree for
        a root commit), sorted by path, and only those under the content root. One
        ``git log`` process covers the whole range and is parsed as a stream.
        """
        return self._under_prefix(self._log(rev, since, raw=True))

    def _under_prefix(
        self, log: Iterator[tuple[Commit, list[FileChange]]]
    ) -> Iterator[tuple[Commit, list[FileChange]]]:
        """Keep the changes under the content root, and the commits that have some."""
        for commit, entries in log:
            inside = [c for c in entries if c.path.startswith(self.prefix)]
            if inside:
                cut = len(self.prefix)
                yield commit, sorted((_relative(c, cut) for c in inside), key=_path_key)

    def _log(
        self, rev: str, since: str | None, *, raw: bool
    ) -> Iterator[tuple[Commit, list[FileChange]]]:
        """``git log --first-parent`` from ``since`` (excluded) to ``rev``, oldest first.

        Revisions are checked now; the log is read as the result is iterated.
        """
        head = self.resolve(rev)
        revisions = [head]
        if since is not None:
            base = self.resolve(since)
            if not self.is_first_parent_ancestor(base, head):
                raise HistoryError(
                    f"{since} ({base[:12]}) is not a first-parent ancestor of {rev} ({head[:12]})"
                )
            revisions.append(f"^{base}")
        args = ["log", "--first-parent", "--reverse", "-z", _LOG_FORMAT, "--encoding=UTF-8"]
        args += ["--no-show-signature", "--no-notes", "--no-color"]
        if raw:
            args += ["-m", "--root", "--raw", "--no-renames", "--no-abbrev"]
            args += ["--ignore-submodules=none", "--no-ext-diff", "--no-textconv"]
        return _parse_log(self._tokens([*args, *revisions, "--"]))

    # -- trees and blobs --------------------------------------------------------

    def tree(self, rev: str) -> dict[str, tuple[str, str]]:
        """Every file under the content root at ``rev``: path → (mode, blob id)."""
        commit = self.resolve(rev)
        treeish = commit
        if self.prefix:
            try:
                out = self._run(
                    ["rev-parse", "--verify", "--quiet", f"{commit}:{self.prefix[:-1]}"]
                )
            except HistoryError:
                return {}  # the content folder does not exist at that commit
            treeish = out.decode("ascii").strip()
            if self._run(["cat-file", "-t", treeish]).strip() != b"tree":
                return {}
        files: dict[str, tuple[str, str]] = {}
        for record in self._tokens(["ls-tree", "-r", "-z", "--full-tree", treeish]):
            if not record:
                continue
            meta, sep, name = record.partition(b"\t")
            fields = meta.decode("ascii", "replace").split(" ")
            if not sep or len(fields) != 3 or not _MODE.fullmatch(fields[0]):
                raise HistoryError(f"unexpected git ls-tree output: {record[:60]!r}")
            files[_decode(name)] = (fields[0], _object_id(fields[2]))
        return files

    def read_blob(self, blob: str, limit: int = MAX_BLOB_SIZE) -> bytes:
        """The bytes of a blob (from the repository, or a file listed by :meth:`worktree_changes`).

        Raises :class:`ContentError` if the blob is larger than ``limit`` bytes, without
        reading it.
        """
        if not _OBJECT_ID.fullmatch(blob):
            raise UsageError(f"not a git object id: {blob!r}")
        stale = None
        if blob in self._disk_blobs:
            data = self._read_disk_blob(blob, limit)
            if data is not None:
                return data
            stale = self._disk_blobs.pop(blob)  # those bytes may still be in the repository
        proc = self._cat_file_process()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(blob.encode("ascii") + b"\n")
            proc.stdin.flush()
            header = proc.stdout.readline().split()
            if header[1:] == [b"missing"]:
                raise HistoryError(
                    f"{stale} changed on disk after its changes were listed"
                    if stale
                    else f"blob {blob} is not in the repository"
                )
            if len(header) != 3 or header[0].decode() != blob or not header[2].isdigit():
                self.close()
                raise HistoryError(f"unexpected git cat-file output for {blob}")
            if header[1] != b"blob":
                self.close()  # it is already streaming the object: restart rather than read it
                raise HistoryError(f"object {blob} is a {header[1].decode()}, not a blob")
            size = int(header[2])
            if size > limit:
                self.close()
                raise ContentError(f"blob {blob} is {size} bytes, over the limit of {limit} bytes")
            data = proc.stdout.read(size)
            if len(data) != size or proc.stdout.read(1) != b"\n":
                raise HistoryError(f"git cat-file ended while reading blob {blob}")
        except (OSError, IndexError) as e:
            self.close()
            raise HistoryError(f"git cat-file failed while reading blob {blob}: {e}") from None
        return data

    def read_blobs(
        self, blobs: Sequence[str], limit: int = MAX_BLOB_SIZE
    ) -> Iterator[tuple[str, bytes]]:
        """The bytes of many blobs, in order: one ``cat-file`` process, requests pipelined.

        A thread feeds the ids while this one reads, so a long list costs one
        process and no round trip per blob. Work-tree blobs fall back to
        :meth:`read_blob`; a blob over ``limit`` raises :class:`ContentError`.
        """
        if any(blob in self._disk_blobs for blob in blobs) or len(blobs) < 2:
            for blob in blobs:
                yield blob, self.read_blob(blob, limit)
            return
        for blob in blobs:
            if not _OBJECT_ID.fullmatch(blob):
                raise UsageError(f"not a git object id: {blob!r}")
        proc = self._popen(["cat-file", "--batch"], stdin=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
        assert proc.stdin is not None and proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout

        def feed() -> None:
            with suppress(OSError, ValueError):
                for blob in blobs:
                    stdin.write(blob.encode("ascii") + b"\n")
                stdin.close()

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            for blob in blobs:
                header = stdout.readline().split()
                if len(header) != 3 or header[0].decode() != blob or header[1] != b"blob":
                    raise HistoryError(f"git cat-file could not read blob {blob}: {header!r}")
                size = int(header[2])
                if size > limit:
                    raise ContentError(
                        f"blob {blob} is {size} bytes, over the limit of {limit} bytes"
                    )
                data = stdout.read(size)
                if len(data) != size or stdout.read(1) != b"\n":
                    raise HistoryError(f"git cat-file ended while reading blob {blob}")
                yield blob, data
        finally:
            proc.kill()
            feeder.join()
            proc.wait()
            stdout.close()

    def _cat_file_process(self) -> subprocess.Popen[bytes]:
        """The long-lived ``git cat-file --batch`` process, started on first use."""
        if self._cat_file is None:
            self._cat_file = self._popen(
                ["cat-file", "--batch"], stdin=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
        return self._cat_file

    def _read_disk_blob(self, blob: str, limit: int) -> bytes | None:
        """The bytes of a work-tree file whose blob id :meth:`worktree_changes` computed.

        None if the file is gone or no longer holds those bytes.
        """
        path = self._disk_blobs[blob]
        try:
            if path.is_symlink():
                data = os.readlink(os.fsencode(path))
            else:
                with path.open("rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    if size > limit:
                        raise ContentError(
                            f"{path} is {size} bytes, over the limit of {limit} bytes"
                        )
                    data = f.read(limit + 1)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise HistoryError(f"cannot read {path}: {e.strerror}") from None
        if len(data) > limit:
            raise ContentError(f"{path} is over the limit of {limit} bytes")
        return data if _blob_id(data, len(blob)) == blob else None

    # -- the work tree ----------------------------------------------------------

    def worktree_changes(self, rev: str = "HEAD") -> list[FileChange]:
        """Uncommitted changes under the content root against ``rev``, untracked files included.

        A changed file's ``new_blob`` is the id ``git hash-object --no-filters`` would
        give it, computed without writing to the repository; :meth:`read_blob` returns
        its bytes from disk. Ignored files are left out. Sorted by path.
        """
        commit = self.resolve(rev)
        pathspec = [f":(top,literal){self.prefix}"] if self.prefix else []
        # path → (old mode, old blob, work-tree mode, work-tree blob). A work-tree mode of
        # None means deleted, "" untracked; a blob of None means git has not hashed the file.
        entries: dict[str, tuple[str | None, str | None, str | None, str | None]] = {}
        diff = ["diff-index", "-z", "--raw", "--no-renames", "--no-abbrev", "--no-ext-diff"]
        diff += ["--ignore-submodules=dirty", commit, "--", *pathspec]
        with closing(self._tokens(diff)) as tokens:
            for token in tokens:
                if (change := _raw_record(token, tokens, "diff-index")) is not None:
                    new = (change.new_mode, change.new_blob)
                    entries[change.path] = (change.old_mode, change.old_blob, *new)
        untracked = ["ls-files", "-z", "--others", "--exclude-standard", "--", *pathspec]
        for token in self._tokens(untracked):
            if token:
                name = _decode(token)
                nested = name.endswith("/")  # an untracked nested repository
                name = name.removesuffix("/")
                old_mode, old_blob, _, _ = entries.get(name, (None, None, None, None))
                entries[name] = (old_mode, old_blob, MODE_GITLINK if nested else "", None)
        changes = []
        for name, (old_mode, old_blob, mode, blob) in entries.items():
            if mode is not None and blob is None:
                mode, blob = self._disk_entry(name, mode, len(commit))
            if (old_mode, old_blob) != (mode, blob):  # else only the index's stat data was stale
                change = FileChange(name, old_mode, mode, old_blob, blob)
                changes.append(_relative(change, len(self.prefix)))
        return sorted(changes, key=_path_key)

    def _disk_entry(self, name: str, mode: str, id_length: int) -> tuple[str, str]:
        """(mode, blob id) of a work-tree path; ``mode`` is git's view of it, "" if untracked."""
        path = self.top / name
        try:
            st = path.lstat()
        except FileNotFoundError:
            raise HistoryError(f"{path} vanished while listing changes") from None
        if mode == MODE_GITLINK or stat.S_ISDIR(st.st_mode):
            if not (path / ".git").exists():
                raise ContentError(f"{path}: a folder where git expects a submodule")
            try:
                head = self._run(["rev-parse", "--verify", "--quiet", "HEAD"], cwd=path)
            except HistoryError:
                raise ContentError(f"{path}: a nested git repository with no commit") from None
            return MODE_GITLINK, head.decode("ascii").strip()
        if stat.S_ISLNK(st.st_mode):
            blob = _blob_id(os.readlink(os.fsencode(path)), id_length)
            mode = MODE_SYMLINK
        elif stat.S_ISREG(st.st_mode):
            blob = _file_blob_id(path, id_length)
            if not mode:
                executable = st.st_mode & 0o100 and self._trusts_file_mode()
                mode = MODE_EXECUTABLE if executable else MODE_FILE
        else:
            raise ContentError(f"{path}: not a regular file, symlink or folder")
        self._disk_blobs[blob] = path
        return mode, blob

    def _trusts_file_mode(self) -> bool:
        """git's ``core.fileMode``: whether the executable bit on disk means anything."""
        if self._file_mode is None:
            try:
                value = self._run(["config", "--type=bool", "--get", "core.filemode"])
            except HistoryError:
                value = b"true"  # unset
            self._file_mode = value.strip() == b"true"
        return self._file_mode

    # -- running git ----------------------------------------------------------------

    def _run(self, args: Sequence[str], cwd: Path | None = None) -> bytes:
        """Run git to completion (in the top level, by default) and return its output."""
        return _run_git(args, cwd or self.top, self._env)

    def _popen(
        self, args: Sequence[str], stdin: int | IO[bytes], stderr: int | IO[bytes]
    ) -> subprocess.Popen[bytes]:
        """Start git with its output on a pipe."""
        try:
            return subprocess.Popen(
                ["git", *_GIT_OPTIONS, *args],
                cwd=self.top,
                env=self._env,
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        except FileNotFoundError:
            raise HistoryError("git is not installed (or not on PATH)") from None

    def _tokens(self, args: Sequence[str]) -> Generator[bytes, None, None]:
        """Stream git's NUL-separated output; HistoryError at the end if git failed."""
        return self._split(args, b"\0")

    def _lines(self, args: Sequence[str]) -> Generator[bytes, None, None]:
        """Stream git's newline-separated output; HistoryError at the end if git failed."""
        return self._split(args, b"\n")

    def _split(self, args: Sequence[str], separator: bytes) -> Generator[bytes, None, None]:
        """Stream git's output split at ``separator``; the process ends when the stream does."""
        with tempfile.TemporaryFile() as errors:  # a file, not a pipe: git never blocks on it
            proc = self._popen(args, stdin=subprocess.DEVNULL, stderr=errors)
            assert proc.stdout is not None
            try:
                rest = b""
                while chunk := proc.stdout.read(_CHUNK):
                    *parts, rest = (rest + chunk).split(separator)
                    yield from parts
                if rest:
                    yield rest
                if proc.wait() != 0:
                    errors.seek(0)
                    raise _failure(args, errors.read(), self.top)
            finally:
                if proc.poll() is None:  # the caller stopped early
                    proc.kill()
                proc.stdout.close()
                proc.wait()


def ensure_repository(directory: Path) -> bool:
    """Make ``directory`` a git repository on branch ``main`` unless it is in one; report if made.

    The one place that writes to a repository: ``smki init`` creating it.
    """
    env = _git_env()
    try:
        _run_git(["rev-parse", "--show-toplevel"], directory, env)
    except HistoryError as e:
        if "is not in a git repository" not in str(e):
            raise
        _run_git(["init", "-q", "--initial-branch=main", "."], directory, env)
        return True
    return False


def _run_git(args: Sequence[str], cwd: Path, env: dict[str, str]) -> bytes:
    """Run git to completion and return its standard output; HistoryError if it fails."""
    try:
        done = subprocess.run(
            ["git", *_GIT_OPTIONS, *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise HistoryError("git is not installed (or not on PATH)") from None
    except NotADirectoryError:
        raise HistoryError(f"{cwd}: not a folder") from None
    if done.returncode != 0:
        raise _failure(args, done.stderr, cwd)
    return done.stdout


def _git_env() -> dict[str, str]:
    """The environment git runs in: C locale, no system config, no writes, no replace refs."""
    env = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_ENV}
    env.update(
        LC_ALL="C",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_OPTIONAL_LOCKS="0",
        GIT_NO_REPLACE_OBJECTS="1",
        GIT_TERMINAL_PROMPT="0",
    )
    return env


def _failure(args: Sequence[str], stderr: bytes, cwd: Path) -> HistoryError:
    """One-line HistoryError for a failed git command."""
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    errors = [line for line in lines if line.startswith(("fatal: ", "error: "))] or lines
    first = errors[0].removeprefix("fatal: ").removeprefix("error: ") if errors else ""
    if "not a git repository" in first:
        return HistoryError(f"{cwd} is not in a git repository")
    return HistoryError(f"git {args[0]} failed: {first or 'no message'}")


def _decode(raw: bytes) -> str:
    """A path as git stores it (bytes), as text that round-trips through os.fsencode."""
    return raw.decode("utf-8", "surrogateescape")


def _path_key(change: FileChange) -> bytes:
    """Sort key: the path's bytes, git's index order."""
    return change.path.encode("utf-8", "surrogateescape")


def _relative(change: FileChange, cut: int) -> FileChange:
    """The same change with its path made relative to the content root."""
    return FileChange(
        change.path[cut:], change.old_mode, change.new_mode, change.old_blob, change.new_blob
    )


def _object_id(text: str) -> str:
    """Check a full object id from git's output."""
    if not _OBJECT_ID.fullmatch(text):
        raise HistoryError(f"unexpected object id in git output: {text[:70]!r}")
    return text


def _parse_log(
    stream: Generator[bytes, None, None],
) -> Iterator[tuple[Commit, list[FileChange]]]:
    """Commits and their raw changes from ``git log -z --raw`` with :data:`_LOG_FORMAT`.

    Each commit is a header field (``\\x01%H %P %ct``), its message, then its raw
    records; fields are taken by position, so no path or message can pass for a header.
    """
    with closing(stream) as tokens:
        commit: Commit | None = None
        entries: list[FileChange] = []
        for token in tokens:
            if token.startswith(_HEADER):
                if commit is not None:
                    yield commit, entries
                commit, entries = _parse_header(token[1:], next(tokens, b"")), []
            elif (change := _raw_record(token, tokens, "log")) is not None:
                if commit is None:
                    raise HistoryError("unexpected git log output: a change before a commit")
                entries.append(change)
        if commit is not None:
            yield commit, entries


def _parse_header(header: bytes, message: bytes) -> Commit:
    """A Commit from ``%H %P %ct`` and the raw message ``%B``."""
    fields = header.decode("ascii", "replace").split(" ")
    if len(fields) < 3 or not fields[-1].lstrip("-").isdigit():
        raise HistoryError(f"unexpected git log header: {header[:100]!r}")
    time = datetime.fromtimestamp(int(fields[-1]), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    subject = message.decode("utf-8", "replace").split("\n", 1)[0]
    return Commit(id=_object_id(fields[0]), time=time, subject=subject)


def _raw_record(token: bytes, tokens: Iterator[bytes], command: str) -> FileChange | None:
    """The change in one ``--raw -z`` record (``:old new oldid newid status``, then the path).

    ``token`` is the record's first field; the path is taken from ``tokens``. None for
    the blank separator git prints between a commit's message and its changes.
    """
    meta = token.lstrip(b"\n")
    if not meta:
        return None
    fields = meta[1:].decode("ascii", "replace").split(" ")
    path = next(tokens, b"")
    if (
        not meta.startswith(b":")
        or len(fields) != 5
        or not path
        or not all(_MODE.fullmatch(m) for m in fields[:2])
    ):
        raise HistoryError(f"unexpected git {command} output: {meta[:100]!r}")
    old_mode, new_mode = (None if m == "000000" else m for m in fields[:2])
    old_blob, new_blob = (None if set(i) == {"0"} else _object_id(i) for i in fields[2:4])
    return FileChange(
        _decode(path),
        old_mode,
        new_mode,
        old_blob if old_mode else None,
        new_blob if new_mode else None,
    )


def _blob_digest(size: int, id_length: int) -> hashlib._Hash:
    """A hash fed with a blob's object header (SHA-1, or SHA-256 in a 64-hex repository)."""
    digest = hashlib.sha1() if id_length == 40 else hashlib.sha256()
    digest.update(b"blob %d\0" % size)
    return digest


def _blob_id(data: bytes, id_length: int) -> str:
    """The git blob id of ``data``."""
    digest = _blob_digest(len(data), id_length)
    digest.update(data)
    return digest.hexdigest()


def _file_blob_id(path: Path, id_length: int) -> str:
    """The git blob id of a file's bytes, read in chunks (no filters, like ``--no-filters``)."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        digest = _blob_digest(size, id_length)
        read = 0
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            read += len(chunk)
    if read != size:
        raise HistoryError(f"{path} changed while it was being read")
    return digest.hexdigest()
