"""Small building blocks shared by entry validation and query parsing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from audit_trail.core.errors import FieldError, ValidationFailed

T = TypeVar("T")


class ErrorCollector:
    """Collects field errors so that one response names them all."""

    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, field: str, message: str) -> None:
        # a field path built from a client's key may hold lone surrogates: escape them,
        # so that the error itself can be encoded as UTF-8 JSON
        if not is_unicode(field):
            field = field.encode("utf-8", "backslashreplace").decode()
        self.items.append(FieldError(field, message))

    def check(self, field: str, value: Any, parse: Callable[[Any], T]) -> T | None:
        """``parse(value)``, or None with the ``ValueError``'s message recorded."""
        try:
            return parse(value)
        except ValueError as exc:
            self.add(field, str(exc))
            return None

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationFailed(self.items)


def text(value: Any, *, max_length: int) -> str:
    """A non-empty string of at most ``max_length`` characters and no NUL."""
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    if len(value) > max_length:
        raise ValueError(f"must be at most {max_length} characters")
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if not is_unicode(value):
        raise ValueError("must be valid Unicode (no lone surrogates)")
    return value


def is_unicode(value: str) -> bool:
    """False for strings holding lone surrogates (JSON's ``"\\ud800"`` decodes to one),
    which cannot be encoded as UTF-8 and so cannot be stored or sized."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
