"""The ``smki`` command: a thin click layer.

It parses arguments, calls the library, and turns :class:`generator.errors.Error`
into one readable line on stderr and a non-zero exit (``--verbose`` adds the
traceback). Only this module talks to the terminal.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any

import click

from generator import __version__
from generator.errors import Error, UnauthorisedChange, UsageError
from generator.files import write_private_file
from generator.tlog.note import generate_signer

EXIT_ERROR = 1
EXIT_USAGE = 2


class SmkiGroup(click.Group):
    """Runs a command and reports our errors as one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Error as error:
            if ctx.obj and ctx.obj.get("verbose"):
                traceback.print_exc()
            click.echo(f"smki: error: {error.diagnostics()}", err=True)
            ctx.exit(getattr(error, "exit_code", EXIT_ERROR))
        except OSError as error:
            if ctx.obj and ctx.obj.get("verbose"):
                traceback.print_exc()
            where = f": {error.filename}" if error.filename else ""
            click.echo(f"smki: error: {error.strerror or error}{where}", err=True)
            ctx.exit(EXIT_ERROR)


@click.group(cls=SmkiGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smki")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks and more detail.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Governed, verifiable SMKI Repository: a signed transparency log and static site."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose


@main.command()
@click.argument("name")
@click.option("--ecdsa", is_flag=True, help="Make an ECDSA P-256 key (type 0x02), not Ed25519.")
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the private key (created with mode 0600; never overwritten).",
)
def keygen(name: str, ecdsa: bool, out: Path) -> None:
    """Make a signing key NAME; print its verifier key line."""
    signer = generate_signer(name, ecdsa=ecdsa)
    try:
        write_private_file(out, signer.skey + "\n")
    except FileExistsError:
        raise UsageError(f"{out} exists: refusing to overwrite a key") from None
    click.echo(signer.verifier().vkey)


# -- transparency log (C2SP tlog-tiles) --------------------------------------------------------

VKEY_OPTION = click.option(
    "--key", "vkey", required=True, metavar="VKEY",
    help="The log's verifier key (name+id+key), or a file holding it.",
)


@main.group()
def tlog() -> None:
    """Write, check and prove against a C2SP tiled transparency log."""


@tlog.command("append")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--key", "key", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The log's private key file (PRIVATE+KEY+…); its name is the log origin.")
@click.option("--origin", help="The checkpoint origin; must be the key name (the default).")
@click.option("--input", "source", type=click.File("rb"), default="-", show_default=True,
              help="Entries, one per line (the newline is not part of the entry); - is stdin.")
def tlog_append(directory: Path, key: Path, origin: str | None, source: Any) -> None:
    """Append entries to the log in DIRECTORY (made if missing); print its new checkpoint."""
    from generator.keys import read_signer
    from generator.tlog.store import DirStore
    from generator.tlog.writer import append_entries

    signer = read_signer(key)
    entries = source.read().split(b"\n")
    if entries[-1] == b"":  # the newline ends a line; it does not start an empty entry
        entries.pop()
    directory.mkdir(parents=True, exist_ok=True)
    checkpoint = append_entries(DirStore(directory, durable=True), entries, signer, origin=origin)
    click.echo(checkpoint.decode(), nl=False)


@tlog.command("check")
@click.argument("prefix")
@VKEY_OPTION
@click.option("--since", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A checkpoint trusted earlier: fail on a rollback or a fork since it.")
@click.option("--incremental", is_flag=True,
              help="With --since: prove consistency and check only what was added since.")
def tlog_check(prefix: str, vkey: str, since: Path | None, incremental: bool) -> None:
    """Verify the log at PREFIX (a directory or http(s) URL): checkpoint, tiles, entries."""
    import base64

    from generator.keys import read_verifier
    from generator.tlog.checker import check_log
    from generator.tlog.store import open_store

    if incremental and since is None:
        raise UsageError("--incremental needs --since")
    try:
        report = check_log(open_store(prefix), read_verifier(vkey),
                           since=since.read_bytes() if since else None, full=not incremental)
    except ValueError as error:
        raise UsageError(str(error)) from None
    root = base64.b64encode(report.root_hash).decode()
    click.echo(f"ok: {report.origin} size {report.size} root {root}: "
               f"{report.entries_checked} entries, {report.tiles_checked} tiles checked")


@tlog.command("prove")
@click.argument("prefix")
@VKEY_OPTION
@click.option("--index", type=click.IntRange(min=0), required=True,
              help="The entry's index (position in the log, from 0).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the proof to this file (default: standard output).")
def tlog_prove(prefix: str, vkey: str, index: int, out: Path | None) -> None:
    """Make a C2SP tlog-proof that entry INDEX is in the log at PREFIX."""
    from generator.keys import read_verifier
    from generator.tlog.proof import make_proof
    from generator.tlog.reader import LogReader
    from generator.tlog.store import open_store

    try:
        proof = make_proof(LogReader(open_store(prefix), read_verifier(vkey)), index)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if out is None:
        click.echo(proof.decode(), nl=False)
    else:
        out.write_bytes(proof)


# -- governed repository -------------------------------------------------------------------

CONTENT_OPTION = click.option(
    "--content", "content", default="content", show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The content root: a git repository, or a folder inside one.",
)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--origin", required=True, help="The log origin (also the log key's name).")
@click.option("--pma", "pma", multiple=True, required=True, metavar="VKEY",
              help="A PMA member's verifier key (or a file holding it); repeat for each member.")
@click.option("--threshold", type=click.IntRange(min=1), required=True,
              help="How many distinct PMA keys must sign an approval.")
@click.option("--lodger", "lodgers", multiple=True, metavar="PATTERN=VKEY",
              help="Let VKEY lodge items matching PATTERN (e.g. 'items/crls/**=dcc+…'); repeat.")
@click.option("--site-url", default="https://example.github.io/smki-repository",
              show_default=True, help="Where the site will be published (for the CI workflows).")
@click.option("--tool", "tool", default=None,
              help="The pip requirement the CI workflows install smki with "
                   "(default: smki-transparency==<this version>).")
@click.option("--no-ci", is_flag=True, help="Do not write GitHub Actions workflows.")
def init(directory: Path, origin: str, pma: tuple[str, ...], threshold: int,
         lodgers: tuple[str, ...], site_url: str, tool: str | None, no_ci: bool) -> None:
    """Create a content repository in DIRECTORY with an unsigned policy.note and CI workflows."""
    from generator.repository.authoring import init_repository, parse_vkeys
    from generator.repository.history import GitHistory, ensure_repository
    from generator.scaffold import DEFAULT_TOOL, write_ci

    pairs = []
    for value in lodgers:
        pattern, sep, vkey = value.partition("=")
        if not sep:
            raise click.BadParameter(f"{value!r}: want PATTERN=VKEY", param_hint="--lodger")
        pairs.append((pattern, parse_vkeys([vkey])[0]))
    directory.mkdir(parents=True, exist_ok=True)
    created = ensure_repository(directory)
    written = init_repository(directory, origin=origin, pma=parse_vkeys(pma),
                              threshold=threshold, lodgers=pairs)
    if not no_ci:
        with GitHistory(directory) as history:
            content = history.prefix.rstrip("/") or "."
            written += write_ci(history.top, content, site_url=site_url, tool=tool or DEFAULT_TOOL)
    if created:
        click.echo(f"initialised a git repository in {directory}")
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: PMA members sign it (smki sign {directory / 'policy.note'} --key …), "
               "then commit it: that commit is the log's genesis")


def _content_root_of(path: Path) -> Path:
    for folder in [path.resolve().parent, *path.resolve().parents]:
        if (folder / "policy.note").exists():
            return folder
    raise UsageError(f"no policy.note above {path}: is it in a content repository?")


@main.command()
@click.argument("note", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--key", "key", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Your private key file (PRIVATE+KEY+…).")
def sign(note: Path, key: Path) -> None:
    """Add your signature to NOTE (a policy, approval or lodgement note)."""
    from generator.keys import read_signer
    from generator.repository.authoring import sign_note_file

    signer = read_signer(key)
    kind = sign_note_file(note, signer, _content_root_of(note))
    click.echo(f"signed {note} ({kind}) as {signer.name}+{signer.key_id:08x}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False,
                                                                 path_type=Path))
@click.option("--key", "key", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Your lodger private key file.")
@click.option("--id", "note_id", help="The lodgement id (default LDG-<date>-<digest>).")
@CONTENT_OPTION
def lodge(paths: tuple[Path, ...], key: Path, note_id: str | None, content: Path) -> None:
    """Write a signed lodgement for the new items PATHS."""
    from generator.keys import read_signer
    from generator.repository.authoring import lodge_items

    note = lodge_items(content, paths, read_signer(key), note_id)
    click.echo(f"wrote {note} covering {len(paths)} item(s); commit it with the items")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--id", "note_id", required=True, help="The approval id, e.g. PMA-2026-014.")
@click.option("--decision-ref", required=True, help="The PMA decision (minute) reference.")
@click.option("--rationale", default="", help="Short public rationale.")
@click.option("--key", "key", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Your PMA private key file.")
@click.option("--withdraw", "withdraw", multiple=True, type=click.Path(path_type=Path),
              help="Approve withdrawing (deleting) this item; repeat.")
@click.option("--ratify", "ratify", multiple=True, metavar="COMMIT",
              help="Ratify the unauthorised changes made by COMMIT; repeat.")
@click.option("--decision", default="approved", show_default=True,
              type=click.Choice(["approved", "approved_with_conditions", "rejected", "withdrawn"]),
              help="The PMA's decision (rejections are recorded too).")
@click.option("--decided", help="Decision date YYYY-MM-DD (default: today, UTC).")
@click.option("--requested-by", help="Who asked for the change (e.g. DCC, SECAS).")
@CONTENT_OPTION
def approve(paths: tuple[Path, ...], note_id: str, decision_ref: str, rationale: str, key: Path,
            withdraw: tuple[Path, ...], ratify: tuple[str, ...], decision: str,
            decided: str | None, requested_by: str | None, content: Path) -> None:
    """Write a PMA approval of the working-tree changes to PATHS (all changed items if none)."""
    from generator.keys import read_signer
    from generator.repository.authoring import approve_changes

    note = approve_changes(
        content, read_signer(key), note_id=note_id, decision_ref=decision_ref,
        rationale=rationale, paths=paths, withdraw=withdraw, ratify=ratify,
        decision=decision, decided=decided, requested_by=requested_by,
    )
    click.echo(f"wrote {note}; other PMA members add their signatures with smki sign")


@main.command()
@CONTENT_OPTION
@click.option("--base", help="Report events after this revision (default: the whole history).")
@click.option("--summary", "summary", type=click.Path(dir_okay=False, path_type=Path),
              help="Append a Markdown summary (events, problems, who still has to sign) to "
                   "this file, e.g. $GITHUB_STEP_SUMMARY.")
def check(content: Path, base: str | None, summary: Path | None) -> None:
    """Replay the history (and the working tree) through the governance rules.

    This is the pull-request gate: it exits 1 if any change is unauthorised.
    """
    from generator.repository.entries import entry_summary
    from generator.repository.history import GitHistory
    from generator.repository.replay import replay_history
    from generator.repository.report import check_summary

    with GitHistory(content) as history:
        skip = {c.id for c in history.first_parent_commits(base)} if base else set()
        replay = replay_history(history, worktree=True)
    if summary is not None:
        with summary.open("a", encoding="utf-8") as handle:
            handle.write(check_summary(replay, skip))
    for index, entry in enumerate(replay.entries):
        if entry.commit not in skip:
            click.echo(f"{index:>6} {entry.commit[:12]:<12} {entry_summary(entry)}")
    for problem in replay.problems:
        click.echo(f"PROBLEM {problem}", err=True)
    if replay.problems:
        raise UnauthorisedChange(f"{len(replay.problems)} unauthorised change(s): refused")
    click.echo(f"ok: {len(replay.entries)} entries, every change authorised")


@main.command()
@CONTENT_OPTION
@click.option("--out", "out", default="site", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="The output folder.")
@click.option("--log-key", "log_key", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The log's private key file (else $SMKI_LOG_KEY, else a development key).")
@click.option("--published", metavar="URL",
              help="The live site: its checkpoint must be extended, never contradicted.")
@click.option("--state", "state", type=click.Path(file_okay=False, path_type=Path),
              help="Where to keep the record of signed checkpoints and the replay snapshot "
                   "(default: .smki/ in the content repository; safe to delete).")
@click.option("--templates", "templates", type=click.Path(file_okay=False, exists=True,
                                                          path_type=Path),
              help="A folder of templates (and static/ files) overriding the built-in theme.")
def build(content: Path, out: Path, log_key: Path | None, published: str | None,
          state: Path | None, templates: Path | None) -> None:
    """Replay the content history into the signed log and site in OUT, and publish it atomically.

    Refuses, changing nothing, on any unauthorised change, on a history that does not
    extend what was published, or while another build holds the output's lock.
    """
    from generator.build import build as run_build

    report = run_build(content, out, key_file=log_key, published=published, state_dir=state,
                       templates=templates, progress=lambda message: click.echo(message, err=True))
    if report.key.development:
        click.echo(f"note: signed with the development log key {report.key.source} "
                   "(not for publication: pass --log-key or set SMKI_LOG_KEY)", err=True)
    click.echo(f"built {out}: {report.entries} entries ({report.appended} new)")
    click.echo(report.checkpoint.decode(), nl=False)


@main.command()
@click.option("--out", "out", default="site", show_default=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="The built site to serve.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port on 127.0.0.1 (0 picks a free one).")
def serve(out: Path, port: int) -> None:
    """Serve a built site on http://127.0.0.1:PORT/ with its _headers applied (Ctrl-C stops)."""
    from generator.serve import make_server

    server = make_server(out, port)
    click.echo(f"serving {out} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.server_close()



# -- relying parties ---------------------------------------------------------------------------

LOG_OPTION = click.option("--log", "prefix", metavar="PREFIX",
                          help="The log prefix: the site's log/ folder or its URL.")
POLICY_OPTION = click.option("--policy", metavar="SHA256",
                             help="Trust only a policy chain that holds this policy note "
                                  "(the SHA-256 of its policy.note).")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
TIMEOUT_OPTION = click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0,
                              show_default=True, help="Seconds allowed for each HTTP request.")


def _client_inputs(vkey: str, policy: str | None) -> Any:
    """The trusted log key, after checking the --policy digest's form."""
    import re

    from generator.keys import read_verifier
    from generator.tlog.errors import MalformedError

    if policy is not None and not re.fullmatch(r"[0-9a-f]{64}", policy):
        raise UsageError(f"--policy {policy[:70]!r} is not a lower-case hex SHA-256")
    try:
        return read_verifier(vkey)
    except MalformedError as error:
        raise UsageError(f"--key: {error}") from None


def _fail(error: Error, code: int, as_json: bool) -> None:
    """Report a failed verify or audit with its exit code (as JSON too, if asked)."""
    import json

    if as_json:
        click.echo(json.dumps({"ok": False, "exit_code": code, "error": error.diagnostics()}))
    error.exit_code = code  # type: ignore[attr-defined]  # read by SmkiGroup
    raise error


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@LOG_OPTION
@click.option("--proof", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Verify offline with this C2SP tlog-proof file instead of --log.")
@VKEY_OPTION
@POLICY_OPTION
@click.option("--item", metavar="PATH", help="The item path FILE must be logged as.")
@JSON_OPTION
@TIMEOUT_OPTION
def verify(file: Path, prefix: str | None, proof: Path | None, vkey: str, policy: str | None,
           item: str | None, as_json: bool, timeout: float) -> None:
    """Prove that FILE is a logged, authorised and current item version.

    Exit 0 if it is (offline: if it is logged), 3 if the log does not hold it,
    4 if a later entry superseded or withdrew it, 5 if verification failed.
    """
    import json

    from generator.client.outcome import exit_code_for
    from generator.client.source import Source
    from generator.client.verify import verify_file, verify_offline

    if (prefix is None) == (proof is None):
        raise UsageError("give either --log PREFIX (online) or --proof FILE (offline)")
    if proof is not None and (policy or item):
        raise UsageError("--policy and --item need the log (--log): a proof holds one entry")
    verifier = _client_inputs(vkey, policy)
    data = file.read_bytes()
    try:
        if proof is not None:
            result = verify_offline(data, proof.read_bytes(), verifier)
        else:
            source = Source(prefix or "", timeout=timeout)
            result = verify_file(data, source, verifier, policy=policy, item=item)
    except ValueError as error:
        raise UsageError(str(error)) from None
    except Error as error:
        _fail(error, exit_code_for(error), as_json)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        _print_verification(file, result)
    sys.exit(result.exit_code)


def _print_verification(file: Path, result: Any) -> None:
    tree = result.checkpoint
    where = f"the checkpoint of {tree.origin}, size {tree.size}"
    if not result.versions:
        click.echo(f"NOT IN LOG: no entry in {where} logs {file} (sha256 {result.sha256})")
        return
    for v in result.versions:
        label = {"current": "OK", "logged": "OK (offline)"}.get(v.status.value,
                                                                v.status.value.upper())
        click.echo(f"{label}: {file} is {v.item}, logged at entry {v.index} of {where}")
        click.echo(f"  sha256      {v.sha256} ({result.size:,} bytes)")
        click.echo(f"  logged      {v.type} at {v.time}, commit {v.commit[:12]}")
        a = v.authority
        if a is None:
            click.echo(f"  authorised  by entry {v.authorisation} (not checked offline)")
        elif a.kind == "lodgement":
            click.echo(f"  authorised  lodgement {a.id} (entry {a.index}, {a.time}), "
                       f"signed by {', '.join(a.signers)}")
        else:
            what = "ratified by" if a.kind == "ratification" else "approved by"
            click.echo(f"  authorised  {what} PMA approval {a.id} (entry {a.index}): {a.decision}"
                       f", decision {a.decision_ref} of {a.decided}, signed by "
                       f"{', '.join(a.signers)}")
        if v.policy is not None:
            click.echo(f"  policy      v{v.policy.version} (entry {v.policy.index}, sha256 "
                       f"{v.policy.sha256[:16]}…), chain from genesis sha256 "
                       f"{v.policy.genesis_sha256[:16]}… verified")
        status = {"superseded": f"superseded by entry {v.changed_by}",
                  "withdrawn": f"withdrawn by entry {v.changed_by}",
                  "logged": "not checked offline: verify with --log for the item's later entries",
                  }.get(v.status.value, v.status.value)
        click.echo(f"  status      {status}")


@main.command()
@LOG_OPTION
@VKEY_OPTION
@click.option("--state", "state", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="The monitor's state folder (made on first use; evidence/ inside).")
@POLICY_OPTION
@JSON_OPTION
@TIMEOUT_OPTION
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Objects and index shards fetched at once.")
def audit(prefix: str | None, vkey: str, state: Path, policy: str | None, as_json: bool,
          timeout: float, workers: int) -> None:
    """Audit the log at --log and all it added since the last audit; exit 5 on any incident.

    Checks consistency with the last verified checkpoint (rollback, fork), replays
    every new entry through the governance rules, fetches every new object, and
    checks the lookup index. The state is saved only when everything passed.
    """
    import json

    from generator.client.audit import audit as run_audit
    from generator.client.outcome import EXIT_ERROR
    from generator.client.source import Source

    if prefix is None:
        raise UsageError("--log PREFIX is required")
    verifier = _client_inputs(vkey, policy)
    try:
        report = run_audit(
            Source(prefix, timeout=timeout), verifier, state, policy=policy, workers=workers,
            progress=lambda m: None if as_json else click.echo(m, err=True),
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    except Error as error:
        _fail(error, getattr(error, "exit_code", EXIT_ERROR), as_json)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        new = report.size - report.previous_size
        click.echo(f"audit of {report.origin}: size {report.size} (was {report.previous_size}), "
                   f"{new} new entries, {report.objects_checked} objects and "
                   f"{report.shards_checked} index shards checked")
        if report.counts:
            click.echo("  new: " + ", ".join(f"{n} {t}" for t, n in report.counts))
        if len(report.listed) < new and report.listed:
            click.echo(f"  (the last {len(report.listed)} new entries:)")
        for index, summary in report.listed:
            click.echo(f"  {index:>8} {summary}")
        for notice in report.notices:
            click.echo(f"  notice: {notice}")
        for incident in report.incidents:
            evidence = f" [evidence: {incident.evidence}]" if incident.evidence else ""
            click.echo(f"INCIDENT {incident.kind}: {incident.message}{evidence}")
        if report.ok:
            click.echo(f"ok: every check passed; state saved in {state}")
        else:
            click.echo(f"FAILED: {len(report.incidents)} incident(s); {state} left unchanged",
                       err=True)
    sys.exit(report.exit_code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
