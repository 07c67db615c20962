"""The site's machine-readable files: version records, feed, sitemap, robots, ``_headers``.

A version's ``index.json`` says what the version is and how it came, in the
terms of the log (docs/site.md lists its fields). The feed (RFC 4287) lists the
newest log entries with their commit times, never the build's clock. The sitemap
(sitemaps.org protocol) and the feed need absolute URLs: they are made from the
site's base URL. ``_headers`` (the
Netlify / Cloudflare Pages format that ``smki serve`` applies too) carries the
Content-Security-Policy and the caching rules: the checkpoint is revalidated on
every fetch, tiles and objects never change (C2SP tlog-tiles §Caching).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from generator.site import links
from generator.site.facts import ObjectFacts
from generator.site.model import Item, LogRecord, Version

FEED_ENTRIES = 100
"""How many of the newest log entries the Atom feed carries."""

SITEMAP_LIMIT = 50_000
"""Most URLs in one sitemap file (sitemaps.org protocol)."""

CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'"
)
"""The pages' Content-Security-Policy (the ``<meta>`` form: no frame-ancestors).

``'wasm-unsafe-eval'`` lets the search index (Pagefind, WebAssembly) run; it does
not allow JavaScript ``eval``. No inline script or style is ever allowed.
"""

HEADER_CSP = CSP + "; frame-ancestors 'none'"
OBJECT_CSP = "default-src 'none'; sandbox"


def object_description(item: Item, v: Version, facts: ObjectFacts) -> dict[str, Any]:
    """What a certificate's or CRL's version record says about it (for search and tools)."""
    if item.kind == "certificate":
        c = facts.certificate(v.sha256)
        return {"certificate": None if c.unparseable else {
            "title": c.title, "serial": c.serial, "eui64": c.eui64, "role": c.role,
            "usage": c.usage, "subject": c.subject, "issuer": c.issuer,
            "subject_key_id": c.ski, "authority_key_id": c.aki, "expiry": c.expiry,
        }}  # fmt: skip
    if item.kind == "crl":
        r = facts.crl(v.sha256)
        return {"crl": None if r.unparseable else {
            "title": r.title, "issuer": r.issuer, "number": r.number,
            "this_update": r.this_update, "next_update": r.next_update,
            "revoked": [x.serial for x in r.revoked],
        }}  # fmt: skip
    return {}


def version_record(
    item: Item, v: Version, record: LogRecord, described: dict[str, Any]
) -> bytes:
    """A version's ``index.json`` (paths relative to the site root, keys sorted)."""
    auth = v.authorisation
    obj = {
        "item": item.path, "version": v.number, "versions": len(item.versions),
        "sha256": v.sha256, "size": v.size, "index": v.index, "status": v.status,
        "action": v.action, "commit": v.commit, "time": v.time,
        "entry": json.loads(record.canonical), "leaf_hash": record.leaf_hash,
        "authorisation": {"kind": auth.kind, "id": auth.id, "index": auth.index}
        if auth else None,
        "incident": v.incident, "object": links.object_file(v.sha256),
        "proof": links.version_proof(item.path, v.number),
        **described,
    }  # fmt: skip
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def atom_feed(records: Sequence[LogRecord], base_url: str, origin: str) -> bytes:
    """The Atom feed of the newest :data:`FEED_ENTRIES` log entries, newest first."""
    newest = list(reversed(records[-FEED_ENTRIES:]))
    updated = newest[0].time if newest else "1970-01-01T00:00:00Z"
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"  <id>{escape(base_url)}</id>",
        f"  <title>SMKI Repository log: {escape(origin)}</title>",
        f"  <updated>{escape(updated)}</updated>",
        f'  <link rel="self" href="{_attr(base_url + links.FEED)}"/>',
        f'  <link rel="alternate" type="text/html" href="{_attr(base_url)}"/>',
        f"  <author><name>{escape(origin)}</name></author>",
    ]
    for record in newest:
        url = base_url + links.entry_page(record.index)
        lines += [
            "  <entry>",
            f"    <id>{escape(url)}</id>",
            f"    <title>Entry {record.index}: {escape(record.summary)}</title>",
            f"    <updated>{escape(record.time)}</updated>",
            f'    <link rel="alternate" type="text/html" href="{_attr(url)}"/>',
            f"    <summary>{escape(record.type)} entry from commit {escape(record.commit)}"
            f"{': ' + escape(record.subject) if record.subject else ''}</summary>",
            "  </entry>",
        ]
    lines.append("</feed>")
    return ("\n".join(lines) + "\n").encode()


def sitemaps(pages: Sequence[str], base_url: str) -> dict[str, bytes]:
    """``sitemap.xml`` for ``pages`` (sorted), as an index of parts if there are too many."""
    urls = sorted(pages)
    parts = [urls[i : i + SITEMAP_LIMIT] for i in range(0, len(urls), SITEMAP_LIMIT)] or [[]]

    def urlset(chunk: list[str]) -> bytes:
        body = "".join(f"  <url><loc>{escape(base_url + u)}</loc></url>\n" for u in chunk)
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            f"{body}</urlset>\n"
        ).encode()

    if len(parts) == 1:
        return {links.SITEMAP: urlset(parts[0])}
    files = {f"sitemap-{n}.xml": urlset(chunk) for n, chunk in enumerate(parts, 1)}
    index = "".join(
        f"  <sitemap><loc>{escape(base_url + name)}</loc></sitemap>\n" for name in files
    )
    files[links.SITEMAP] = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{index}</sitemapindex>\n"
    ).encode()
    return files


def robots(base_url: str) -> bytes:
    """``robots.txt``: everything may be crawled but the tiles; where the sitemap is."""
    return (
        f"User-agent: *\nDisallow: /log/tile/\nAllow: /\n\nSitemap: {base_url}{links.SITEMAP}\n"
    ).encode()


def headers_file() -> bytes:
    """``_headers``: security headers everywhere, cache rules for the log and objects."""
    return "".join(
        [
            "/*\n",
            f"  Content-Security-Policy: {HEADER_CSP}\n",
            "  X-Content-Type-Options: nosniff\n",
            "  Referrer-Policy: no-referrer\n",
            "  X-Frame-Options: DENY\n",
            f"/{links.CHECKPOINT}\n",
            "  Cache-Control: no-cache\n",
            "  Content-Type: text/plain; charset=utf-8\n",
            "/index/*\n",
            "  Cache-Control: no-cache\n",
            "/evidence/*\n",
            "  Cache-Control: no-cache\n",
            "/log/tile/*\n",
            "  Cache-Control: public, max-age=31536000, immutable\n",
            "  Content-Type: application/octet-stream\n",
            "/objects/*\n",
            "  Cache-Control: public, max-age=31536000, immutable\n",
            "  Content-Type: application/octet-stream\n",
            f"  Content-Security-Policy: {OBJECT_CSP}\n",
        ]
    ).encode()
