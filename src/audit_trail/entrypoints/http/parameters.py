"""Query parameters: the integers of the routes that take only those (log ranges, history
pages), and GET /entries' own parameters on the routes that take only some of them."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from audit_trail.core import FieldError, QueryRequest, ValidationFailed, parse_query

_MAX_PARAMETER = 2**63 - 1


def integer_parameters(
    query: Mapping[str, list[str]], required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, int]:
    """The non-negative integer parameters of a query string; 422 naming each bad or
    unknown one."""
    errors: list[FieldError] = []
    values: dict[str, int] = {}
    for name, raw in query.items():
        if name not in required and name not in optional:
            errors.append(FieldError(name, "is not a parameter of this route"))
        elif len(raw) != 1:
            errors.append(FieldError(name, "must be given once"))
        elif not _is_integer_text(raw[0]) or int(raw[0]) > _MAX_PARAMETER:
            errors.append(FieldError(name, "must be a non-negative integer"))
        else:
            values[name] = int(raw[0])
    errors += [FieldError(name, "is required") for name in required if name not in query]
    if errors:
        raise ValidationFailed(errors)
    return values


def _is_integer_text(raw: str) -> bool:
    # bounded before int(): past 4300 digits int() raises, and the largest is 19 digits
    return raw.isascii() and raw.isdigit() and len(raw) <= len(str(_MAX_PARAMETER))


def query_without(
    query: Mapping[str, Sequence[str]], excluded: Collection[str]
) -> tuple[QueryRequest, list[FieldError]]:
    """GET /entries' parameters, less ``excluded`` (an export or a stream has no pages):
    the parsed request, and an error for each excluded one given, for the caller to
    raise with its own; a bad parameter raises at once, with those errors too."""
    errors = [FieldError(n, "is not a parameter of this route") for n in excluded if n in query]
    try:
        request = parse_query({k: v for k, v in query.items() if k not in excluded})
    except ValidationFailed as failure:
        raise ValidationFailed([*errors, *failure.errors]) from None
    return request, errors
