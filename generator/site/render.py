"""The site stage: model → cross-references → pages, rendered with Jinja2 and written.

Staged like Pelican: :func:`render_site` collects the whole model, resolves every
cross-reference (a dangling link is a :class:`~generator.errors.ContentError`
naming the page and its target), plans every output path, and only then renders
and writes. Templates are found on a search path, the user's folder first, then
the built-in theme (the package ``generator.templates``, or the repository's
``templates/`` in an editable install); autoescaping is always on. Static
assets are copied to ``static/`` and referenced with Subresource Integrity.
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import functools
import gc
import hashlib
import importlib.metadata
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from generator import __version__
from generator.errors import UsageError
from generator.repository.replay import Replay
from generator.resources import templates_dir as builtin_templates
from generator.site import feeds, links
from generator.site.certificate import NO_EXPIRY_TEXT
from generator.site.facts import ObjectFacts
from generator.site.markdown import ID_PREFIX, resolve_links
from generator.site.model import NoteRef, collect_model
from generator.site.output import OutputWriter, PlanMemo, SiteCache, output_key
from generator.site.pages import FAMILY_TITLES, DataFile, DocLink, ExtraPage, Page, plan_site
from generator.site.pki import pki_links
from generator.tlog.checkpoint import open_checkpoint
from generator.tlog.note import Verifier
from generator.tlog.pins import PinnedCheckpoints
from generator.tlog.reader import LogReader
from generator.tlog.store import DirStore

Progress = Callable[[str], None]

MAX_DIFF_BYTES = 1 << 20
MAX_DIFF_LINES = 5000
MAX_NOTE_ROWS = 2000
_LIBRARIES = ("jinja2", "markdown", "nh3", "cryptography")


@dataclass(frozen=True)
class SiteInputs:
    """What the site is made of: the replayed history, the signed checkpoint, its key."""

    replay: Replay
    checkpoint: bytes
    verifier: Verifier
    templates: Path | None = None
    base_url: str | None = None
    pins: PinnedCheckpoints = field(kw_only=True)
    """Where each version's tlog-proof is pinned (``generator.build.pinned_checkpoints``)."""


@dataclass(frozen=True)
class SiteReport:
    """What the site stage did."""

    outputs: int
    written: int
    unchanged: int
    skipped: int
    removed: int


@dataclass(frozen=True)
class Asset:
    """A static file and its Subresource Integrity value (sha384, W3C SRI §3.1)."""

    name: str
    data: bytes
    integrity: str


def template_dirs(user: Path | None) -> list[Path]:
    """The template search path: the user's folder first, then the built-in theme."""
    if user is not None and not user.is_dir():
        raise UsageError(f"--templates {user}: not a folder")
    return [*([user] if user is not None else []), builtin_templates()]


def load_assets(dirs: list[Path]) -> dict[str, Asset]:
    """The files of each ``static/`` folder on the search path (earlier folders win)."""
    assets: dict[str, Asset] = {}
    for folder in reversed(dirs):
        static = folder / "static"
        for path in sorted(static.iterdir()) if static.is_dir() else []:
            if path.is_file() and not path.name.startswith("."):
                data = path.read_bytes()
                digest = base64.b64encode(hashlib.sha384(data).digest()).decode()
                assets[path.name] = Asset(path.name, data, f"sha384-{digest}")
    return dict(sorted(assets.items()))


def _tree_digest(root: Path, pattern: str) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob(pattern)):
        if path.is_file():
            data = path.read_bytes()
            h.update(f"{path.relative_to(root)} {len(data)}\n".encode() + data)
    return h.hexdigest()


@functools.cache
def code_fingerprint() -> str:
    """A digest of this package's code and the libraries it renders with.

    Taken once per process: it stands for the code that is running.
    """
    versions = "".join(f"{n} {importlib.metadata.version(n)}\n" for n in _LIBRARIES)
    code = _tree_digest(Path(__file__).resolve().parents[1], "*.py")
    return hashlib.sha256(f"{__version__}\n{versions}{code}".encode()).hexdigest()


def fingerprint(dirs: list[Path], extra: str) -> str:
    """A digest of the code, libraries and templates that make the pages (the cache's key)."""
    parts = [code_fingerprint(), extra, *(_tree_digest(d, "*") for d in dirs)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def text_diff(old: bytes, new: bytes) -> list[tuple[str, str]] | None:
    """A unified diff of two text versions as (kind, line) rows, or None if not text."""
    if max(len(old), len(new)) > MAX_DIFF_BYTES or b"\0" in old or b"\0" in new:
        return None
    try:
        a, b = old.decode("utf-8").splitlines(), new.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None
    rows = []
    for line in difflib.unified_diff(a, b, "previous", "this version", lineterm="", n=3):
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        if line.startswith(("+++", "---")):
            kind = "file"
        rows.append((kind, line))
        if len(rows) >= MAX_DIFF_LINES:
            rows.append(("hunk", f"… diff cut at {MAX_DIFF_LINES} lines"))
            break
    return rows


def extra_pages(dirs: list[Path]) -> tuple[ExtraPage, ...]:
    """The theme's own pages: each ``pages/<name>.html`` on the search path, at ``<name>/``."""
    names = sorted({p.stem for d in dirs for p in (d / "pages").glob("*.html") if p.is_file()})
    return tuple(
        ExtraPage(f"pages/{name}.html", f"{name}/index.html", name.replace("-", " ").capitalize())
        for name in names
    )


def hash_code(value: str) -> Markup:
    """A digest, shown whole (it wraps anywhere)."""
    return Markup(f'<code class="hash">{escape(value)}</code>')


def when(time: str) -> Markup:
    """An RFC 3339 time as a ``<time>`` element."""
    text = escape(time)
    return Markup(f'<time datetime="{text}">{text}</time>')


def status(value: str, filter: bool = False) -> Markup:
    """A status badge; ``filter`` makes it the page's status facet (Pagefind meta)."""
    text = escape(value)
    attribute = ' data-pagefind-meta="status"' if filter else ""
    return Markup(f'<span class="badge badge-{text}"{attribute}>{text}</span>')


class _CompiledTemplates(jinja2.BytecodeCache):
    """Compiled templates kept for the life of the process (in memory, never on disk).

    Each build makes a new environment; without this it compiled every template
    again. Jinja2 checks each template's source checksum before using its code.
    """

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self.code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


class _Context(jinja2.runtime.Context):
    """A template context that calls the theme's own helpers directly.

    Jinja2 sends every call a template makes through :meth:`Context.call`, which
    asks each callable whether it wants the context passed (some two million
    questions in a big build). The theme's helpers never do: their ids are in
    ``plain`` (set per environment; the environment keeps them alive, so the ids
    stay theirs), and anything else, macros included, goes the usual way.
    """

    plain: frozenset[int] = frozenset()

    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if id(__obj) in __self.plain:
            if kwargs:  # inside loops and blocks Jinja passes its own variables along
                kwargs.pop("_loop_vars", None)
                kwargs.pop("_block_vars", None)
            return __obj(*args, **kwargs)
        return super().call(__obj, *args, **kwargs)


def _escaped_text(value: Any) -> str:
    """``str(markupsafe.escape(value))``, without making the ``Markup`` object.

    Compiled templates call ``escape`` on each value they output (autoescaping), and
    only join the results into a string (a page, or a macro's or block's text, which
    Jinja then marks safe itself), so the text is all they need; making a ``Markup``
    of each value calls its Python constructor.
    """
    if type(value) is str:
        return _escape_inner(value)
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return _escape_inner(str(value))


try:  # MarkupSafe 3 escapes str in C with _escape_inner and wraps the text in Python
    from markupsafe import _escape_inner  # type: ignore[attr-defined]

    _OUTPUT_ESCAPE: Callable[[Any], str] = _escaped_text
except ImportError:  # older MarkupSafe: its escape as it is
    _OUTPUT_ESCAPE = escape


class _Template(jinja2.Template):
    """Jinja's template, giving each context it makes the globals as one dict, and
    escaping what it outputs with :func:`_escaped_text`.

    Jinja keeps a template's globals as a ChainMap (the template's own over the
    environment's), and every context it makes — one per page and per include —
    copies them key by key, in Python, twice (``new_context``, ``Context``). The
    theme sets its globals once, before any template is loaded, and templates add
    none, so the merged dict is made once per template and is the same mapping.
    """

    _flat_globals: dict[str, Any] | None = None

    @classmethod
    def _from_namespace(
        cls,
        environment: jinja2.Environment,
        namespace: Any,
        globals: Any,
    ) -> jinja2.Template:
        # The compiled module's functions look "escape" up in its namespace, which
        # holds markupsafe.escape (imported by the module's first line) until here.
        namespace["escape"] = _OUTPUT_ESCAPE
        return super()._from_namespace(environment, namespace, globals)

    def new_context(
        self,
        vars: dict[str, Any] | None = None,
        shared: bool = False,
        locals: Mapping[str, Any] | None = None,
    ) -> jinja2.runtime.Context:
        flat = self._flat_globals
        if flat is None:
            flat = self._flat_globals = dict(self.globals)
        return jinja2.runtime.new_context(
            self.environment, self.name, self.blocks, vars, shared, flat, locals
        )


class Theme:
    """The Jinja2 environment and the helpers pages call, rendering one page at a time.

    Templates reach the page being rendered only through ``href``, so macro
    modules need no context and Jinja caches them.
    """

    def __init__(
        self,
        dirs: list[Path],
        site: links.SiteMap,
        facts: ObjectFacts,
        assets: dict[str, Asset],
        site_globals: dict[str, Any],
    ) -> None:
        self.site, self.facts, self.assets = site, facts, assets
        self.page, self.root = "", ""
        self.base_path: str = site_globals["base_path"]
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,  # one build: no need to stat each template at each page
            bytecode_cache=_COMPILED,
        )
        self.env.globals.update(
            href=self.href,
            asset=self.asset,
            entry=self.entry,
            note=self.note,
            hash=hash_code,
            when=when,
            status=status,
            document_html=self.document_html,
            diff=lambda old, new: text_diff(facts.read(old), facts.read(new)),
            certificate_view=facts.certificate_view,
            crl_view=facts.crl_view,
            family_titles=FAMILY_TITLES,
            csp=Markup(feeds.CSP),  # a constant: no escaping needed
            max_rows=MAX_NOTE_ROWS,
            no_expiry=NO_EXPIRY_TEXT,
            generator_version=__version__,
            **site_globals,
            **{name: getattr(links, name) for name in (
                "item_page", "version_page", "version_json", "version_proof", "converted",
                "family_page", "note_page", "entry_page", "entries_page", "object_file",
                "HOME", "ITEMS", "APPROVALS", "LODGEMENTS", "INCIDENTS", "POLICY", "LOG",
                "ENTRIES", "FEED", "CHECKPOINT", "VKEY",
            )},
        )  # fmt: skip
        self.env.template_class = _Template  # set before any template is loaded
        self.env.filters["short"] = lambda value: str(value)[:12]
        plain = frozenset(
            id(value) for value in self.env.globals.values()
            if callable(value) and not isinstance(value, type)
            and getattr(value, "jinja_pass_arg", None) is None
        )  # fmt: skip
        self.env.context_class = type("ThemeContext", (_Context,), {"plain": plain})

    def href(self, target: str, fragment: str | None = None) -> str:
        """The link from the page being rendered to ``target`` (a dangling one is an error)."""
        return self.site.href(self.page, target, fragment, root=self.root)

    def asset(self, name: str) -> dict[str, str] | None:
        """A static file's link and SRI value, or None if the theme has no such file."""
        found = self.assets.get(name)
        if found is None:
            return None
        return {"url": self.href(links.static_file(name)), "integrity": found.integrity}

    def entry(self, index: int) -> Markup:
        """A link to log entry ``index``."""
        url = escape(self.href(links.entry_page(index)))
        return Markup(f'<a href="{url}">entry {int(index)}</a>')

    def note(self, ref: NoteRef) -> Markup:
        """A link to an approval or lodgement."""
        url = escape(self.href(links.note_page(ref.kind, ref.id)))
        return Markup(f'<a href="{url}">{escape(ref.kind)} {escape(ref.id)}</a>')

    def document_html(self, sha256: str, doc_links: Sequence[DocLink]) -> Markup:
        """A document's sanitised HTML, its relative links resolved for this page."""
        targets = [
            None if d.target is None
            else self.href(d.target, f"{ID_PREFIX}{d.fragment}" if d.fragment else None)
            for d in doc_links
        ]  # fmt: skip
        return Markup(resolve_links(self.facts.document(sha256).html, targets))

    def render(self, page: Page) -> bytes:
        """The bytes of ``page``; a template error names the page and the template."""
        self.page = page.path
        # 404.html is served at any depth: its links are absolute (from the base URL).
        self.root = self.base_path if page.path == links.NOT_FOUND else links.root_of(page.path)
        try:
            template = self.env.get_template(page.template)
            text = template.render(page.context, page_path=page.path, root=self.root)
        except jinja2.TemplateError as error:
            where = f"{error.filename}:{error.lineno}: " if isinstance(
                error, jinja2.TemplateSyntaxError) else f"{page.template}: "  # fmt: skip
            raise UsageError(f"template error rendering {page.path}: {where}{error}") from None
        return text.encode()


@contextlib.contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector.

    A build holds some 10^6 small acyclic objects (model, contexts, facts): every
    collection would walk them all again, for nothing. Reference counting still
    frees what the build drops; the collector runs again afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _quiet(_: str) -> None:
    pass


def render_site(inputs: SiteInputs, out: Path, *, progress: Progress = _quiet) -> SiteReport:
    """Build the site of ``inputs`` into ``out`` beside the log and objects already there."""
    with _without_cyclic_gc():
        return _build_site(inputs, out, progress)


def _build_site(inputs: SiteInputs, out: Path, progress: Progress) -> SiteReport:
    dirs = template_dirs(inputs.templates)
    signed = open_checkpoint(inputs.checkpoint, inputs.verifier, origin=inputs.verifier.name)
    origin = inputs.verifier.name  # the log's origin (checked against the policy below)
    base_url = inputs.base_url or f"https://{origin}/"
    cache = SiteCache.load(out, fingerprint(dirs, f"{origin}\n{base_url}"))
    model = collect_model(inputs.replay, cache.model)
    if model.origin != origin:
        raise UsageError(f"the log key names {origin!r}, the policy's origin is {model.origin!r}")
    facts = ObjectFacts(out / "objects", cache.facts, cache.issued)
    progress(f"site: collecting {len(model.items)} items")
    site = links.SiteMap()
    for sha256 in sorted(inputs.replay.objects):
        site.add(links.object_file(sha256), "log stage object")
    site.add(links.CHECKPOINT, "log stage checkpoint")
    site.add(links.VKEY, "log stage verifier key")
    assets = load_assets(dirs)
    for name in assets:
        site.add(links.static_file(name), f"static asset {name}")
    reader = LogReader(DirStore(out / "log"), inputs.verifier)
    if reader.checkpoint().raw != inputs.checkpoint:
        raise UsageError(f"{out / 'log'} holds another checkpoint than the one to publish")
    entries = model.entries
    vkey = inputs.verifier.vkey

    pins = inputs.pins
    if pins.reader.latest.raw != inputs.checkpoint:
        raise UsageError("the pinned checkpoints are not of the log being published")

    def proof(index: int) -> tuple[str, Callable[[], bytes]]:
        """A version's tlog-proof, pinned to its commit's checkpoint, and its cache key."""
        key = f"{vkey}:{pins.size_for(index)}:{index}"
        return key, lambda: pins.proof(index, extra=entries[index])

    extra = extra_pages(dirs)
    memo = PlanMemo(output_key(cache.fingerprint, vkey), cache.units)
    outputs = plan_site(model, functools.partial(pki_links, model, facts), facts, signed, vkey,
                        proof, site, extra, memo)  # fmt: skip
    html = [o.path for o in outputs if isinstance(o, Page) and o.path != links.NOT_FOUND]
    html += [path for unit in memo.reused.values() for path in unit if path.endswith(".html")]
    extras = {
        links.FEED: feeds.atom_feed(model.records, base_url, model.origin),
        links.ROBOTS: feeds.robots(base_url),
        links.HEADERS: feeds.headers_file(),
        **feeds.sitemaps(html, base_url),
    }
    for path in extras:
        site.add(path, f"site file {path}")
    site_globals = {
        "origin": model.origin,
        "extra_pages": extra,
        "base_path": urllib.parse.urlsplit(base_url).path or "/",
    }
    theme = Theme(dirs, site, facts, assets, site_globals)
    writer = OutputWriter(out, cache.outputs(besides=memo.reused))
    reused_files = memo.reused_files
    progress(f"site: {reused_files} files as they were, "
             f"{len(outputs) + len(extras) + len(assets)} to check")
    for name, a in assets.items():
        writer.emit(links.static_file(name), a.integrity, functools.partial(bytes, a.data))
    for path, data in sorted(extras.items()):
        writer.emit(path, hashlib.sha256(data).hexdigest(), functools.partial(bytes, data))
    for output in outputs:
        if isinstance(output, DataFile):
            writer.emit(output.path, output_key(cache.fingerprint, output.key), output.make)
        else:
            key = output_key(cache.fingerprint, output.template, repr(output.context))
            writer.emit(output.path, key, functools.partial(theme.render, output))
    writer.skipped += reused_files  # reused units: as the previous build left them
    writer.remove_stale()
    cache.save(out, writer.current, memo.units, new_facts=facts.added,
               new_issued=facts.added_issued, model=model.state)  # fmt: skip
    progress(
        f"site: {writer.written} written, {writer.unchanged} unchanged, "
        f"{writer.skipped} up to date, {writer.removed} removed"
    )
    return SiteReport(len(writer.current) + reused_files, writer.written, writer.unchanged,
                      writer.skipped, writer.removed)  # fmt: skip
