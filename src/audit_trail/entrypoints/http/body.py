"""Request bodies: the size limit, the media type, and JSON decoding (msgspec)."""

from __future__ import annotations

import msgspec

from audit_trail.entrypoints.http.messages import HttpRequest
from audit_trail.entrypoints.http.problems import (
    BODY_TOO_LARGE,
    MALFORMED_REQUEST,
    UNSUPPORTED_MEDIA_TYPE,
    HttpProblem,
)


def too_large(limit: int) -> HttpProblem:
    return HttpProblem(BODY_TOO_LARGE, f"the request body must be at most {limit} bytes")


def check_body_size(request: HttpRequest, limit: int) -> None:
    """413 when ``Content-Length`` announces more than ``limit`` bytes, or more arrived."""
    announced = request.header("content-length")
    if announced is not None:
        announced = announced.strip()
        if not announced.isascii() or not announced.isdigit():
            raise HttpProblem(MALFORMED_REQUEST, "the Content-Length header is not a number")
        if int(announced) > limit:
            raise too_large(limit)
    if len(request.body) > limit:
        raise too_large(limit)


def is_json_media_type(content_type: str | None) -> bool:
    """``application/json`` or ``application/<anything>+json``, parameters ignored."""
    if content_type is None:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def json_body(request: HttpRequest) -> object:
    """The decoded JSON body: 415 for another media type, 400 for malformed JSON."""
    if not is_json_media_type(request.header("content-type")):
        raise HttpProblem(UNSUPPORTED_MEDIA_TYPE, "the body must be sent as application/json")
    try:
        return msgspec.json.decode(request.body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        raise HttpProblem(MALFORMED_REQUEST, "the body is not valid JSON") from None
