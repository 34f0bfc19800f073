"""PageCursors: the cursor of a paged query proof names its pin and where the next page
starts, and is refused, saying why, anywhere else."""

from __future__ import annotations

import string
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_trail.core import CursorCodec, ValidationFailed, parse_query
from audit_trail.core.index.page_cursor import SCOPE, PageCursor, PageCursors, query_digest
from audit_trail.core.query import EntryFilters

CODEC = CursorCodec(b"p" * 32)
CURSORS = PageCursors(CODEC)
FILTERS = EntryFilters(actor_id="u-1")
DIGEST = query_digest(FILTERS)
AT = PageCursor(leaf_index=1043, tree_size=1044, bucket=2, position=100, size=250, query=DIGEST)

cursors = st.builds(
    PageCursor,
    leaf_index=st.integers(0, 2**63 - 2),
    tree_size=st.just(2**63 - 1),
    bucket=st.integers(0, 63),
    position=st.integers(0, 2**63 - 2),
    size=st.just(2**63 - 1),
    query=st.just(DIGEST),
)


def refusal(text: str, *, tenant: str = "acme", filters: EntryFilters = FILTERS) -> str:
    with pytest.raises(ValidationFailed) as caught:
        CURSORS.decode(text, tenant=tenant, filters=filters, buckets=64)
    [error] = caught.value.errors
    assert error.field == "cursor"
    return error.message


@given(cursors)
def test_a_cursor_names_its_pin_and_place(cursor: PageCursor) -> None:
    text = CURSORS.encode(cursor, tenant="acme")
    assert CURSORS.decode(text, tenant="acme", filters=FILTERS, buckets=64) == cursor
    assert set(text) <= set(string.ascii_letters + string.digits + "-_.")
    assert len(text) <= 512  # MAX_CURSOR_LENGTH


def test_a_cursor_changed_anywhere_is_refused() -> None:
    text = CURSORS.encode(AT, tenant="acme")
    for index, original in enumerate(text):
        for replacement in "A_-.=!":
            if replacement != original:
                changed = text[:index] + replacement + text[index + 1 :]
                assert "is not a cursor this service issued" in refusal(changed)
    for cut in (text[:-1], text[1:], text.split(".")[0], ""):
        assert "is not a cursor this service issued" in refusal(cut)


def test_a_cursor_of_another_tenant_or_kind_is_refused() -> None:
    text = CURSORS.encode(AT, tenant="acme")
    assert "is not a cursor this service issued" in refusal(text, tenant="globex")
    plain_scope = parse_query({"actor_id": ["u-1"]}).scope()
    plain = CODEC.seal(b"1700000000000:01J", tenant="acme", scope=plain_scope)
    assert "is not a cursor this service issued" in refusal(plain)
    with pytest.raises(ValidationFailed):  # and a plain query takes no proof cursor
        CODEC.decode(text, tenant="acme", scope=plain_scope)


def test_a_cursor_of_another_query_is_refused_as_such() -> None:
    text = CURSORS.encode(AT, tenant="acme")
    for other in (
        EntryFilters(actor_id="u-2"),
        EntryFilters(actor_id="u-1", outcome=None, tag="ui"),
        EntryFilters(target_type="doc", target_id="u-1"),
    ):
        assert "was issued for another query" in refusal(text, filters=other)
    same = parse_query({"actor_id": ["u-1"], "sort": ["occurred_at"], "limit": ["3"]})
    assert query_digest(same.filters) == DIGEST  # sort and page size are not the query


def test_a_cursor_of_another_format_or_outside_the_plan_is_refused() -> None:
    layout = struct.Struct(">BQQHQQ16s")
    newer = layout.pack(2, 1043, 1044, 2, 100, 250, DIGEST)
    assert "format" in refusal(CODEC.seal(newer, tenant="acme", scope=SCOPE))
    assert "format" in refusal(CODEC.seal(newer[:-1], tenant="acme", scope=SCOPE))
    for leaf_index, tree_size, bucket, position, size in (
        (1044, 1044, 2, 100, 250),  # the index leaf is not in the checkpoint's tree
        (1043, 2**64 - 1, 2, 100, 250),  # no log is that large
        (1043, 1044, 2, 100, 2**63),  # nor any posting log
        (1043, 1044, 64, 0, 250),  # the plan has 64 buckets
        (1043, 1044, 2, 250, 250),  # a cursor never names a finished bucket
    ):
        payload = layout.pack(1, leaf_index, tree_size, bucket, position, size, DIGEST)
        assert "names no place" in refusal(CODEC.seal(payload, tenant="acme", scope=SCOPE))
