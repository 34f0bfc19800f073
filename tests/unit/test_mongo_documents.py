"""Revisions as MongoDB documents and back: what a query page reads, how BSON's
integers come back."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bson import Int64
from hypothesis import given

from audit_trail.adapters.storage.mongo_documents import (
    PAGE_FIELDS,
    document_to_entry,
    entry_to_document,
)
from audit_trail.core.model import Entry, Evidence
from tests.unit.strategies import entries

EVIDENCE = Evidence({"action": bytes(16)}, None, bytes(32))


def as_bson_decodes(value: Any) -> Any:
    """``value`` with every int as BSON gives it back when it does not fit 32 bits."""
    if isinstance(value, dict):
        return {key: as_bson_decodes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_bson_decodes(item) for item in value]
    if type(value) is int:
        return Int64(value)
    return value


def exact_types(value: Any) -> set[type]:
    if isinstance(value, dict):
        return {dict}.union(*(exact_types(item) for item in value.values()))
    if isinstance(value, list):
        return {list}.union(*(exact_types(item) for item in value))
    return {type(value)}


@given(entries)
def test_a_page_reads_every_field_a_live_entry_shows_and_no_evidence(entry: Entry) -> None:
    live = replace(entry, deleted=False)
    document = entry_to_document(replace(live, evidence=EVIDENCE), log_index=0, leaf=b"{}")

    read = document_to_entry({k: v for k, v in document.items() if k in PAGE_FIELDS})

    assert read == live
    assert read.evidence is None


@given(entries)
def test_metadata_comes_back_with_plain_ints(entry: Entry) -> None:
    document = entry_to_document(replace(entry, evidence=EVIDENCE))
    document["metadata"] = as_bson_decodes(document["metadata"])

    read = document_to_entry(document)

    assert read.metadata == entry.metadata
    assert Int64 not in exact_types(read.metadata)
    assert read.evidence == EVIDENCE
