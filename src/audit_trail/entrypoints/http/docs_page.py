"""The docs page: a small self-contained HTML rendering of the OpenAPI document.

It loads nothing from anywhere: no scripts, no fonts, no CDN."""

from __future__ import annotations

from html import escape
from typing import Any

from audit_trail.entrypoints.http.paths import OPENAPI_PATH
from audit_trail.entrypoints.http.problems import PROBLEM_TYPES

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:0 .25rem}
.op{border-left:4px solid #888;padding:.25rem .75rem;margin:1rem 0}
.m{font-weight:bold;display:inline-block;min-width:4.5rem}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}
"""


def _operation(method: str, path: str, op: dict[str, Any]) -> str:
    security = op.get("security") or []
    scopes = [scope for requirement in security for scope in requirement.get("bearerAuth", [])]
    scope = f"scope <code>{escape(scopes[0])}</code>" if scopes else "no token needed"
    rows = "".join(
        f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
        f"<td>{escape(p.get('description', ''))}</td></tr>"
        for p in op.get("parameters", [])
    )
    params = f"<table><tr><th>parameter</th><th>in</th><th></th></tr>{rows}</table>" if rows else ""
    statuses = ", ".join(escape(s) for s in op["responses"] if s != "default")
    return (
        f'<div class="op" id="{escape(op["operationId"])}">'
        f'<p><span class="m">{escape(method.upper())}</span><code>{escape(path)}</code></p>'
        f"<p>{escape(op['summary'])} &middot; {scope} &middot; responses {statuses}</p>"
        f"{params}</div>"
    )


def render_docs_page(document: dict[str, Any]) -> bytes:
    info = document["info"]
    operations = "".join(
        _operation(method, path, op)
        for path, methods in document["paths"].items()
        for method, op in methods.items()
    )
    problems = "".join(
        f'<tr id="{escape(k.slug)}"><td><code>{escape(k.slug)}</code></td><td>{k.status}</td>'
        f"<td>{escape(k.title)}</td><td>{escape(k.description)}</td></tr>"
        for k in PROBLEM_TYPES
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(info["title"])} API</title><style>{_STYLE}</style></head>
<body><h1>{escape(info["title"])} <small>{escape(info["version"])}</small></h1>
<p>{escape(info["description"])}</p>
<p>Send <code>Authorization: Bearer &lt;JWT&gt;</code>. The machine-readable description is
<a href="{OPENAPI_PATH}"><code>{OPENAPI_PATH}</code></a> (OpenAPI 3.1).</p>
<h2>Operations</h2>{operations}
<h2>Problem types</h2>
<p>Errors are <code>application/problem+json</code> (RFC 9457); their <code>type</code>
points to a row below.</p>
<table><tr><th>type</th><th>status</th><th>title</th><th>meaning</th></tr>{problems}</table>
</body></html>
"""
    return page.encode()
