"""POST /entries/{entry_id}/erase: erase fields of every revision (docs/lifecycle.md)."""

from __future__ import annotations

from typing import Any

from audit_trail.core import FieldError, ValidationFailed
from audit_trail.core.timestamps import format_timestamp
from audit_trail.core.usecases.erase import (
    EraseFields,
    EraseFieldsCommand,
    Erasure,
    erase_command_errors,
)
from audit_trail.entrypoints.http.body import json_body
from audit_trail.entrypoints.http.messages import HttpResponse, json_response
from audit_trail.entrypoints.http.routes import Call

_MEMBERS = ("fields", "reason")


class EraseEndpoint:
    def __init__(self, erase: EraseFields) -> None:
        self._erase = erase

    async def erase_entry(self, call: Call) -> HttpResponse:
        body = json_body(call.request)
        if not isinstance(body, dict):
            raise ValidationFailed.single("", "the body must be a JSON object")
        errors = [
            FieldError(name, "unknown member: the body holds fields and reason only")
            for name in body
            if name not in _MEMBERS
        ]
        errors += erase_command_errors(body.get("fields"), body.get("reason"))
        if errors:
            raise ValidationFailed(errors)
        command = EraseFieldsCommand(
            call.caller, call.path_param("entry_id"), body["fields"], body["reason"]
        )
        return json_response(200, erasure_json(await self._erase.execute(command)))


def erasure_json(erasure: Erasure) -> dict[str, Any]:
    return {
        "entry_id": erasure.entry_id,
        "fields": list(erasure.fields),
        "revisions": list(erasure.revisions),
        "reason": erasure.reason,
        "recorded_at": format_timestamp(erasure.recorded_at),
        "recorded_by": erasure.recorded_by,
        "leaf_index": erasure.leaf_index,
    }
