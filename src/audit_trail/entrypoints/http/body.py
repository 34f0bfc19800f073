"""Request bodies: the size limit, the media type, and JSON decoding (msgspec).

Before decoding, a cheap look at the bytes bounds the nesting depth; after, the
object keys counted in the bytes must all be in the decoded objects: msgspec keeps
the last of duplicate keys silently, and the service refuses them instead."""

from __future__ import annotations

import msgspec

from audit_trail.core import ValidationFailed
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


def check_query_size(request: HttpRequest, limit: int) -> None:
    """422 when the query string has more than ``limit`` parameters, before any
    parsing of it."""
    if request.raw_query and request.raw_query.count("&") + 1 > limit:
        raise ValidationFailed.single("query", f"has more than {limit} parameters")


def is_json_media_type(content_type: str | None) -> bool:
    """``application/json`` or ``application/<anything>+json``, parameters ignored."""
    if content_type is None:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


MAX_JSON_DEPTH = 32
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


def json_body(request: HttpRequest) -> object:
    """The decoded JSON body: 415 for another media type, 400 for malformed JSON,
    422 for JSON nested deeper than ``MAX_JSON_DEPTH`` or with a duplicate key."""
    if not is_json_media_type(request.header("content-type")):
        raise HttpProblem(UNSUPPORTED_MEDIA_TYPE, "the body must be sent as application/json")
    # outside its strings, a JSON text's colons separate keys from values
    structure = _structure(request.body)
    _check_depth(structure)
    try:
        payload = msgspec.json.decode(request.body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        raise HttpProblem(MALFORMED_REQUEST, "the body is not valid JSON") from None
    # the decoded objects hold fewer keys than were sent: some were duplicates. msgspec
    # counts them for us, encoding what it decoded (in C: a tenth of decoding's cost)
    keys = structure.count(b":")
    if keys and _structure(msgspec.json.encode(payload)).count(b":") != keys:
        raise ValidationFailed.single("body", "an object has a duplicate key")
    return payload


def _check_depth(structure: bytes) -> None:
    brackets = structure.translate(None, _NOT_BRACKETS)
    if len(brackets) <= 2 * MAX_JSON_DEPTH:
        return
    depth = 0
    for char in brackets:
        if char in b"[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ValidationFailed.single("body", f"nests deeper than {MAX_JSON_DEPTH} levels")
        else:
            depth -= 1


def _structure(text: bytes) -> bytes:
    """``text`` without its strings: brackets, colons, commas, and scalars. Once its
    escaped backslashes and escaped quotes are gone (backslashes appear only inside
    strings), a JSON text's strings lie between every other quote."""
    if b"\\" in text:
        text = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(text.split(b'"')[::2])
