"""Where the API lives: the base path and the paths built from it."""

from __future__ import annotations

from urllib.parse import quote

BASE_PATH = "/apiv3/audit_trail"
OPENAPI_PATH = f"{BASE_PATH}/openapi.json"
DOCS_PATH = f"{BASE_PATH}/docs"


def entry_location(entry_id: str) -> str:
    """The URL path of one entry (for ``Location``)."""
    return f"{BASE_PATH}/entries/{quote(entry_id, safe='')}"


def problem_type_uri(slug: str) -> str:
    """A problem type's URI: its section of the docs page."""
    return f"{DOCS_PATH}#{slug}"
