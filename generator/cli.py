"""The ``smki`` command: a thin click layer.

It parses arguments, calls the library, and turns :class:`generator.errors.Error`
into one readable line on stderr and a non-zero exit (``--verbose`` adds the
traceback). Only this module talks to the terminal.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from generator import __version__
from generator.errors import Error
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


def write_private_file(path: Path, data: str) -> None:
    """Create ``path`` with mode 0600 and write ``data``; never overwrite a key."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(data)


@main.command()
@click.argument("name")
@click.option("--ecdsa", is_flag=True, help="Make an ECDSA P-256 key (type 0x02) instead of Ed25519.")
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
        raise click.ClickException(f"{out} exists: refusing to overwrite a key") from None
    click.echo(signer.verifier().vkey)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
