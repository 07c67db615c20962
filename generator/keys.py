"""Key files: reading signer keys, and the log key a build signs with."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from generator.errors import UsageError
from generator.files import write_private_file
from generator.tlog.errors import MalformedError
from generator.tlog.note import Signer, Verifier, generate_signer, parse_signer, parse_verifier

LOG_KEY_ENV = "SMKI_LOG_KEY"
DEV_KEY_DIR = ".smki"


def read_signer(path: Path) -> Signer:
    """Read a ``PRIVATE+KEY+…`` file."""
    try:
        return parse_signer(path.read_text(encoding="utf-8"))
    except (MalformedError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: not a private key file ({error})") from None


def read_verifier(value: str) -> Verifier:
    """A verifier key given as the key string itself or as a file holding it."""
    path = Path(value)
    text = path.read_text(encoding="utf-8") if "+" not in value and path.is_file() else value
    return parse_verifier(text.strip())


@dataclass(frozen=True)
class LogKey:
    """The key a build signs checkpoints with, and where it came from."""

    signer: Signer
    source: str
    development: bool


def log_key(option: Path | None, origin: str, dev_root: Path) -> LogKey:
    """The log signing key: ``--log-key``, else ``$SMKI_LOG_KEY``, else a development key.

    ``$SMKI_LOG_KEY`` holds the key string itself (a CI secret) or a path to it.
    The development key lives under ``dev_root/.smki/``, outside any output, and
    is made on first use; its name is the policy's log origin.
    """
    if option is not None:
        key = LogKey(read_signer(option), str(option), False)
    elif os.environ.get(LOG_KEY_ENV):
        value = os.environ[LOG_KEY_ENV].strip()
        if value.startswith("PRIVATE+KEY+"):
            try:
                key = LogKey(parse_signer(value), f"${LOG_KEY_ENV}", False)
            except MalformedError as error:
                raise UsageError(f"${LOG_KEY_ENV}: {error}") from None
        else:
            key = LogKey(read_signer(Path(value)), value, False)
    else:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in origin)
        path = dev_root / DEV_KEY_DIR / f"dev-log-{safe}.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_private_file(path, generate_signer(origin).skey + "\n")
        key = LogKey(read_signer(path), str(path), True)
    if key.signer.name != origin:
        raise UsageError(
            f"log key {key.source} is named {key.signer.name!r} but the policy's log origin is "
            f"{origin!r}: the checkpoint origin must be the key name"
        )
    return key
