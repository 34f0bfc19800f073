"""The body of POST /entries/batch: ``{"entries": [...]}``, validated as a whole."""

from __future__ import annotations

from collections.abc import Mapping

from audit_trail.core import EntryDraft, FieldError, ValidationFailed, validate_entry


def validate_batch(payload: object, max_entries: int) -> list[EntryDraft]:
    """Every entry of the batch as a draft; one ``ValidationFailed`` naming every bad
    field as ``entries[i].field``."""
    if not isinstance(payload, Mapping):
        raise ValidationFailed.single("", "the body must be a JSON object")
    errors = [FieldError(str(key), "unknown field") for key in payload if key != "entries"]
    entries = payload.get("entries")
    if not isinstance(entries, list):
        message = "is required" if entries is None else "must be a list of entries"
        raise ValidationFailed([*errors, FieldError("entries", message)])
    if not 1 <= len(entries) <= max_entries:
        message = f"must hold from 1 to {max_entries} entries"
        raise ValidationFailed([*errors, FieldError("entries", message)])
    drafts: list[EntryDraft] = []
    for index, item in enumerate(entries):
        try:
            drafts.append(validate_entry(item))
        except ValidationFailed as failure:
            errors.extend(failure.within(f"entries[{index}]").errors)
    if errors:
        raise ValidationFailed(errors)
    return drafts
