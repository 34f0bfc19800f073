"""Static files served from inside the package (the API docs, the viewer).

A bundle is one flat directory under ``audit_trail/web/``, read into memory once
when the app starts, so that ``pip install`` alone serves it and no page the service
hands out loads anything from another origin. Each file is served with its type, a
strong ETag (a hash of its bytes, answered by 304 on ``If-None-Match``) and
``Cache-Control: no-cache``: browsers revalidate, so an upgrade shows at once."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from importlib.resources import files

from audit_trail.entrypoints.http.messages import HttpRequest, HttpResponse
from audit_trail.entrypoints.http.problems import NOT_FOUND, HttpProblem

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}


class StaticBundle:
    """Files by name, each answered as it is; ``headers`` go on every answer (a
    Content-Security-Policy, for instance)."""

    def __init__(self, contents: Mapping[str, bytes], headers: Iterable[tuple[str, str]] = ()):
        shared = tuple(headers)
        self._files: dict[str, tuple[bytes, tuple[tuple[str, str], ...]]] = {}
        for name, body in contents.items():
            suffix = name[name.rfind(".") :] if "." in name else ""
            if suffix not in CONTENT_TYPES:
                raise ValueError(f"{name}: no content type is known for {suffix or 'no suffix'}")
            tag = base64.urlsafe_b64encode(hashlib.sha256(body).digest()[:18]).decode()
            own = (
                ("content-type", CONTENT_TYPES[suffix]),
                ("etag", f'"{tag}"'),
                ("cache-control", "no-cache"),
                ("x-content-type-options", "nosniff"),
            )
            self._files[name] = (body, own + shared)

    @classmethod
    def from_package(cls, directory: str, headers: Iterable[tuple[str, str]] = ()) -> StaticBundle:
        """The files of ``audit_trail/web/<directory>/`` (not its subdirectories)."""
        root = files("audit_trail").joinpath("web", directory)
        contents = {item.name: item.read_bytes() for item in root.iterdir() if item.is_file()}
        return cls(contents, headers)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._files)

    def response(self, name: str, request: HttpRequest) -> HttpResponse:
        """``name``'s answer: 200 with its bytes, 304 when ``If-None-Match`` names its
        ETag, 404 when the bundle has no such file."""
        try:
            body, headers = self._files[name]
        except KeyError:
            raise HttpProblem(NOT_FOUND, f"no file {name!r} is served here") from None
        tag = headers[1][1]
        if _matches(request.header("if-none-match"), tag):
            return HttpResponse(304, tuple(h for h in headers if h[0] != "content-type"))
        return HttpResponse(200, headers, body)


def _matches(header: str | None, tag: str) -> bool:
    """Weak comparison, as ``If-None-Match`` asks (RFC 9110 §13.1.2)."""
    if header is None:
        return False
    candidates = [part.strip().removeprefix("W/") for part in header.split(",")]
    return "*" in candidates or tag in candidates
