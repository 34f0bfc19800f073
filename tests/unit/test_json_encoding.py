"""Every JsonEncoder gives ``json.dumps``'s bytes: cached pages are in that format."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_trail.adapters.json_encoding import MsgspecJsonEncoder
from audit_trail.core.ports import JsonEncoder
from audit_trail.core.serialization import STDLIB_JSON

ENCODERS: list[JsonEncoder] = [STDLIB_JSON, MsgspecJsonEncoder()]


class Level(IntEnum):
    HIGH = 3


scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too
    | st.floats()  # NaN and the infinities too
    | st.text()  # lone surrogates, DEL and control characters too
    | st.sampled_from(["plain ascii", "Zoë", "\x7f", "\u2028", "😀", "\ud800", Level.HIGH])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)


def expected(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@pytest.mark.parametrize("encoder", ENCODERS, ids=type)
@given(value=values)
def test_an_encoder_gives_the_bytes_of_json_dumps(encoder: JsonEncoder, value: Any) -> None:
    assert encoder.encode(value) == expected(value)


@pytest.mark.parametrize("encoder", ENCODERS, ids=type)
@pytest.mark.parametrize(
    "value", [b"bytes", {"at": datetime(2026, 1, 1, tzinfo=UTC)}, {1: "int key"}, [{1.5}]]
)
def test_an_encoder_refuses_what_json_dumps_refuses_and_keys_it_converts(
    encoder: JsonEncoder, value: Any
) -> None:
    try:
        want = expected(value)
    except TypeError as refusal:
        with pytest.raises(TypeError, match=str(refusal)):
            encoder.encode(value)
    else:
        assert encoder.encode(value) == want
