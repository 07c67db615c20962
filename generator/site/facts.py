"""What the site needs to know about each logged object, cached by its SHA-256.

Cross-references (issuer chains, revocations, document links) need a few facts
from every certificate, CRL and Markdown document, but only the pages that are
rendered need the full parse. :class:`ObjectFacts` reads an object's exact
bytes from ``OUT/objects/<sha256>`` once, keeps its small facts in a JSON cache
(so a rebuild does not parse what it parsed before: an object's bytes never
change under its digest), and memoises the full views for the pages.
"""

from __future__ import annotations

import contextlib
import functools
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol, TypeVar

from generator.site.certificate import (
    CertificateView,
    CrlView,
    Unparseable,
    ds_ka_sibling_key,
    parse_certificate,
    parse_crl,
    verify_issued_by,
)
from generator.site.markdown import MAX_MARKDOWN_BYTES, render_markdown


@dataclass(frozen=True)
class CertificateFacts:
    """The facts of a certificate that cross-references and listings use."""

    unparseable: str | None
    title: str
    encoding: str = "der"
    serial: str | None = None
    subject: str = ""
    issuer: str = ""
    ski: str | None = None
    aki: str | None = None
    sibling: tuple[str, ...] | None = None
    usage: str | None = None
    eui64: str | None = None
    role: str | None = None
    self_issued: bool = False
    expiry: str | None = None
    lint_errors: int = 0


@dataclass(frozen=True)
class RevokedFacts:
    """One revoked serial of a CRL (upper-case hex), with its date and reason."""

    serial: str
    date: str
    reason: str | None


@dataclass(frozen=True)
class CrlFacts:
    """The facts of a CRL or ARL that cross-references and listings use."""

    unparseable: str | None
    title: str
    encoding: str = "der"
    issuer: str = ""
    aki: str | None = None
    this_update: str | None = None
    next_update: str | None = None
    number: int | None = None
    revoked: tuple[RevokedFacts, ...] = ()


@dataclass(frozen=True)
class DocumentFacts:
    """A Markdown document rendered once (links as tokens), or why it is not shown."""

    unrenderable: str | None
    title: str | None = None
    links: tuple[str, ...] = ()
    html: str = ""


VIEW_CACHE = 16384
"""Certificate views kept in memory during a build (a few KB each): a certificate
parsed for its facts is usually not parsed again for its page."""

Facts = CertificateFacts | CrlFacts | DocumentFacts
_KINDS: dict[str, type[Facts]] = {
    "certificate": CertificateFacts,
    "crl": CrlFacts,
    "markdown": DocumentFacts,
}
_F = TypeVar("_F", bound=Facts)


Checker = Callable[[Any], Any]


def _checker(hint: Any) -> Checker:
    """A function converting a JSON value to type ``hint``, or raising TypeError."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = [_checker(option) for option in typing.get_args(hint)]

        def union(value: Any) -> Any:
            for option in options:
                try:
                    return option(value)
                except TypeError:
                    continue
            raise TypeError(f"{value!r} is not {hint}")

        return union
    if origin is tuple:
        item = _checker(typing.get_args(hint)[0])

        def sequence(value: Any) -> Any:
            if not isinstance(value, list | tuple):
                raise TypeError(f"{value!r} is not a list")
            return tuple(item(v) for v in value)

        return sequence
    if isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
        return functools.partial(_load, hint)
    want = type(None) if hint is type(None) else hint

    def scalar(value: Any) -> Any:
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise TypeError(f"{value!r} is not {hint}")
        return value

    return scalar


@functools.cache
def _checkers(cls: type) -> dict[str, Checker]:
    return {name: _checker(hint) for name, hint in typing.get_type_hints(cls).items()}


def _load(cls: type, obj: Any) -> Any:
    """An instance of dataclass ``cls`` from its JSON object, checked field by field."""
    checkers = _checkers(cls)
    if not isinstance(obj, dict) or obj.keys() != checkers.keys():
        raise TypeError(f"not a {cls.__name__}")
    return cls(**{name: check(obj[name]) for name, check in checkers.items()})


def dump_facts(facts: Facts | RevokedFacts) -> dict[str, Any]:
    """The JSON object of ``facts`` (tuples become lists; ``dataclasses.asdict`` would
    deep-copy every value, a document's whole HTML included)."""
    return {name: _plain(getattr(facts, name)) for name in _FIELD_NAMES[type(facts)]}


_FIELD_NAMES = {cls: tuple(f.name for f in fields(cls))
                for cls in (*_KINDS.values(), RevokedFacts)}  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return dump_facts(value) if isinstance(value, RevokedFacts) else value


def encoding_of(data: bytes) -> str:
    """``pem`` if ``data`` is PEM text (RFC 7468), else ``der``."""
    return "pem" if data.lstrip().startswith(b"-----BEGIN ") else "der"


def _certificate_facts(view: CertificateView | Unparseable, encoding: str) -> CertificateFacts:
    if isinstance(view, Unparseable):
        return CertificateFacts(view.reason, "Unparseable certificate", encoding)
    return CertificateFacts(
        unparseable=None,
        title=view.title,
        encoding=encoding,
        serial=view.serial,
        subject=view.subject,
        issuer=view.issuer,
        ski=view.subject_key_id,
        aki=view.authority_key_id,
        sibling=ds_ka_sibling_key(view),
        usage=view.usage,
        eui64=view.eui64,
        role=view.role_code,
        self_issued=view.self_issued,
        expiry=view.expiry_text,
        lint_errors=len(view.lint_errors),
    )


def _crl_facts(view: CrlView | Unparseable, encoding: str) -> CrlFacts:
    if isinstance(view, Unparseable):
        return CrlFacts(view.reason, "Unparseable CRL", encoding)
    return CrlFacts(
        unparseable=None,
        title=view.title,
        encoding=encoding,
        issuer=view.issuer,
        aki=view.authority_key_id,
        this_update=view.this_update,
        next_update=view.next_update,
        number=view.crl_number,
        revoked=tuple(RevokedFacts(r.serial, r.revocation_date, r.reason) for r in view.revoked),
    )


def document_text(data: bytes) -> str | None:
    """The text of a Markdown document, or None if it cannot be rendered (size, encoding)."""
    if len(data) > MAX_MARKDOWN_BYTES:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


class FactsCache(Protocol):
    """Where facts are kept between builds, by SHA-256 (a dict, or the site cache's
    :class:`~generator.site.output.LazyJson`)."""

    def get(self, key: str) -> Any: ...

    def __setitem__(self, key: str, value: Any) -> None: ...


class ObjectFacts:
    """Facts and views of logged objects, by SHA-256, from ``objects`` and a JSON cache."""

    def __init__(self, objects: Path, cache: FactsCache, issued: dict[str, bool]) -> None:
        self.objects = objects
        self.cache = cache
        self.issued = issued
        self.loaded: dict[str, Facts] = {}
        self.added: list[str] = []  # objects whose facts the cache gained
        self.added_issued: list[str] = []  # issuer checks the cache gained
        self.certificate_view: Callable[[str], CertificateView | Unparseable] = (
            functools.lru_cache(maxsize=VIEW_CACHE)(lambda sha: parse_certificate(self.read(sha)))
        )
        self.crl_view: Callable[[str], CrlView | Unparseable] = functools.lru_cache(maxsize=256)(
            lambda sha: parse_crl(self.read(sha))
        )

    def read(self, sha256: str) -> bytes:
        """The exact bytes of object ``sha256`` (written by the log stage)."""
        return (self.objects / sha256).read_bytes()

    def _facts(self, kind: str, sha256: str, make: Callable[[], _F]) -> _F:
        cls = _KINDS[kind]
        found = self.loaded.get(sha256)
        if isinstance(found, cls):
            return typing.cast(_F, found)
        cached = self.cache.get(sha256)
        facts: Facts | None = None
        if isinstance(cached, dict) and cached.get("kind") == kind:
            with contextlib.suppress(TypeError):  # a cache from elsewhere: recompute
                facts = _load(cls, cached.get("facts"))
        if facts is None:
            facts = make()
            self.added.append(sha256)  # a later line replaces an earlier one
            self.cache[sha256] = {"kind": kind, "facts": dump_facts(facts)}
        self.loaded[sha256] = facts
        return typing.cast(_F, facts)

    def title(self, kind: str, sha256: str) -> str | None:
        """The title in the facts of ``sha256`` (``certificate``, ``crl`` or ``markdown``).

        Taken straight from the cache when the facts are not loaded yet: listings
        need every item's title, and nothing else of most of them.
        """
        cached = self.cache.get(sha256)
        if sha256 not in self.loaded and isinstance(cached, dict) and cached.get("kind") == kind:
            facts = cached.get("facts")
            if isinstance(facts, dict) and isinstance(facts.get("title"), str):
                return str(facts["title"])
        if kind == "certificate":
            return self.certificate(sha256).title
        return self.crl(sha256).title if kind == "crl" else self.document(sha256).title

    def certificate(self, sha256: str) -> CertificateFacts:
        """The facts of certificate ``sha256``."""
        return self._facts(
            "certificate",
            sha256,
            lambda: _certificate_facts(
                self.certificate_view(sha256), encoding_of(self.read(sha256))
            ),
        )

    def crl(self, sha256: str) -> CrlFacts:
        """The facts of CRL ``sha256``."""
        return self._facts(
            "crl",
            sha256,
            lambda: _crl_facts(self.crl_view(sha256), encoding_of(self.read(sha256))),
        )

    def document(self, sha256: str) -> DocumentFacts:
        """The facts of Markdown document ``sha256``."""

        def make() -> DocumentFacts:
            text = document_text(self.read(sha256))
            if text is None:
                return DocumentFacts("not UTF-8 text of at most 4 MiB: shown as a download")
            rendered = render_markdown(text)
            return DocumentFacts(None, rendered.title, rendered.links, rendered.html)

        return self._facts("markdown", sha256, make)

    def issued_by(self, child: str, issuer: str, *, crl: bool = False) -> bool:
        """Whether certificate ``issuer`` signed certificate (or CRL) ``child`` (cached)."""
        key = f"{child}:{issuer}"
        if key not in self.issued:
            view = self.crl_view(child) if crl else self.certificate_view(child)
            ca = self.certificate_view(issuer)
            self.added_issued.append(key)
            self.issued[key] = (
                isinstance(view, CertificateView | CrlView)
                and isinstance(ca, CertificateView)
                and verify_issued_by(view, ca)
            )
        return self.issued[key]
