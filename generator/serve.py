"""A local static server for a built site (127.0.0.1 only), for checking a build.

It applies the site's ``_headers`` file (the Netlify/Cloudflare Pages format:
a path pattern line, then indented ``Name: value`` lines) so that local checks
see the same Content-Security-Policy and cache headers a real host would send.
"""

from __future__ import annotations

import fnmatch
import functools
import http.server
from pathlib import Path
from typing import ClassVar

HEADERS_FILE = "_headers"


def parse_headers_file(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Parse ``_headers``: rules of (URL pattern, [(header, value), …]) in file order."""
    rules: list[tuple[str, list[tuple[str, str]]]] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.lstrip().startswith("#"):
            continue
        if not raw[0].isspace():
            rules.append((line.strip(), []))
        elif rules and ":" in line:
            name, _, value = line.strip().partition(":")
            rules[-1][1].append((name.strip(), value.strip()))
    return rules


def headers_for(rules: list[tuple[str, list[tuple[str, str]]]], url_path: str) -> dict[str, str]:
    """The headers the rules give ``url_path`` (later rules override earlier ones)."""
    out: dict[str, str] = {}
    for pattern, headers in rules:
        if fnmatch.fnmatchcase(url_path, pattern.replace(":splat", "*")):
            out.update(headers)
    return out


class _Handler(http.server.SimpleHTTPRequestHandler):
    rules: ClassVar[list[tuple[str, list[tuple[str, str]]]]] = []

    def end_headers(self) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        for name, value in headers_for(self.rules, path).items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def make_server(root: Path, port: int = 8000) -> http.server.ThreadingHTTPServer:
    """A server for ``root`` bound to 127.0.0.1:``port`` (0 picks a free port)."""
    headers = root / HEADERS_FILE
    rules = parse_headers_file(headers.read_text()) if headers.exists() else []
    handler = type("Handler", (_Handler,), {"rules": rules})
    bound = functools.partial(handler, directory=str(root))
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), bound)
