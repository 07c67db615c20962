"""Authorisation note bodies: a kind line, then a small TOML document.

Read with :mod:`tomllib`; written by :func:`dump_toml`, a minimal emitter for
the flat tables and arrays of tables the note kinds use. Reading is strict:
unknown keys and wrong types are errors, so a typo never silently weakens a rule.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

from generator.errors import ContentError

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def split_kind(text: str, kind: str, where: str) -> dict[str, Any]:
    """Parse note text whose first line must be ``kind``; return its TOML body."""
    first, _, body = text.partition("\n")
    if first != kind:
        raise ContentError(f"{where}: first line is {first[:60]!r}, want {kind!r}")
    try:
        return tomllib.loads(body)
    except tomllib.TOMLDecodeError as error:
        raise ContentError(f"{where}: invalid TOML: {error}") from None


class Fields:
    """Typed, strict access to one TOML table; every key must be read or it is an error."""

    def __init__(self, table: Mapping[str, Any], where: str) -> None:
        self._table = table
        self.where = where
        self._seen: set[str] = set()

    def _get(self, key: str, kind: type | tuple[type, ...], required: bool) -> Any:
        self._seen.add(key)
        if key not in self._table:
            if required:
                raise ContentError(f"{self.where}: missing {key!r}")
            return None
        value = self._table[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise ContentError(f"{self.where}: {key!r} has the wrong type")
        return value

    def text(self, key: str, *, required: bool = True) -> str | None:
        """A string value."""
        value = self._get(key, str, required)
        return None if value is None else str(value)

    def need_text(self, key: str) -> str:
        """A required, non-empty string value."""
        value = self.text(key)
        if not value:
            raise ContentError(f"{self.where}: {key!r} must not be empty")
        return value

    def integer(self, key: str) -> int:
        """A required integer value."""
        return int(self._get(key, int, True))

    def texts(self, key: str) -> tuple[str, ...]:
        """An optional array of strings (empty if absent)."""
        value = self._get(key, list, False) or []
        if not all(isinstance(v, str) for v in value):
            raise ContentError(f"{self.where}: {key!r} must be an array of strings")
        return tuple(value)

    def tables(self, key: str) -> list[Fields]:
        """An optional array of tables (empty if absent)."""
        value = self._get(key, list, False) or []
        if not all(isinstance(v, dict) for v in value):
            raise ContentError(f"{self.where}: {key!r} must be an array of tables")
        return [Fields(v, f"{self.where}: {key}[{i}]") for i, v in enumerate(value)]

    def done(self) -> None:
        """Reject keys that were never read (typos, unsupported fields)."""
        extra = sorted(set(self._table) - self._seen)
        if extra:
            raise ContentError(f"{self.where}: unknown field(s) {', '.join(extra)}")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Sequence):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def dump_toml(
    top: Mapping[str, object], arrays: Mapping[str, Sequence[Mapping[str, object]]]
) -> str:
    """Write scalar keys (in the given order), then arrays of tables; None values are skipped."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in top.items() if v is not None]
    for name, tables in arrays.items():
        for table in tables:
            lines.append(f"[[{name}]]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None]
    for line in lines:
        if not _BARE_KEY.match(line.lstrip("[")):
            raise ValueError(f"bad TOML key in {line!r}")
    return "".join(line + "\n" for line in lines)
