"""canonical_json: RFC 8785 (JCS) bytes, checked against the RFC's own examples and,
for generated JSON, against the independent ``rfc8785`` implementation."""

from __future__ import annotations

import json
import struct

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from audit_trail.core.integrity import canonical_json

MAX = 2**53 - 1

# Keys that need UTF-16 code-unit order: an astral character (a surrogate pair, 0xD83D..)
# sorts before U+FFxx in UTF-16 although its code point is larger.
tricky_keys = st.sampled_from(["\U0001f600", "\uff01", "\uffff", "\ue000", "\u00e9", "a", ""])
keys = st.one_of(tricky_keys, st.text(st.characters(codec="utf-8"), max_size=6))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-MAX, max_value=MAX),
    st.integers(min_value=-(2**20), max_value=2**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(codec="utf-8"), max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=30,
)


@given(json_values)
def test_matches_the_rfc8785_package(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


@given(json_values)
def test_is_json_that_reads_back_as_the_same_value(value: object) -> None:
    # An integral float is written without a fraction; read numbers back as floats.
    assert json.loads(canonical_json(value), parse_int=float) == value


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_round_trip_exactly(number: float) -> None:
    assert float(canonical_json(number)) == number


def test_rfc8785_section_3_2_2_example() -> None:
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(value) == expected.encode("utf-8")


def test_rfc8785_section_3_2_3_sorting_example() -> None:
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    assert list(json.loads(canonical_json(value))) == [
        "\r",
        "1",
        "\u0080",
        "\u00f6",
        "\u20ac",
        "\U0001f600",
        "\ufb33",
    ]


APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("ieee", "text"), APPENDIX_B)
def test_rfc8785_appendix_b_numbers(ieee: str, text: str) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(ieee))
    assert canonical_json(number) == text.encode()


@pytest.mark.parametrize("ieee", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_nan_and_infinities_are_refused(ieee: str) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(ieee))
    with pytest.raises(ValueError, match="no JSON form"):
        canonical_json([number])


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (-0.0, "0"),
        (100.0, "100"),
        (-2.5, "-2.5"),
        (MAX, "9007199254740991"),
        (-MAX, "-9007199254740991"),
        (True, "true"),
        (0, "0"),
        ((1, "a"), '[1,"a"]'),
        ({}, "{}"),
        ("\u007f\u2028\x1f\x08", '"\u007f\u2028\\u001f\\b"'),
    ],
)
def test_scalars_and_containers(value: object, text: str) -> None:
    assert canonical_json(value) == text.encode("utf-8")


@pytest.mark.parametrize("number", [2**53, -(2**53), 2**64, -(2**70)])
def test_integers_beyond_2_53_are_refused(number: int) -> None:
    with pytest.raises(ValueError, match=r"integers beyond 2\*\*53-1 cannot be represented"):
        canonical_json({"n": number})


@pytest.mark.parametrize("value", ["\ud800", "a\udfffb", {"\ud83d": 1}, ["\ude00"]])
def test_lone_surrogates_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="lone surrogate"):
        canonical_json(value)


@pytest.mark.parametrize("value", [{1: "a"}, {None: 1}, b"bytes", {1, 2}, object()])
def test_other_types_and_non_string_keys_are_refused(value: object) -> None:
    with pytest.raises(TypeError):
        canonical_json(value)


def test_keys_sort_by_utf16_code_units_not_code_points() -> None:
    # U+1F600 is the pair D83D DE00 in UTF-16: before U+E000, though its code point is higher.
    value = {"\uff01": 1, "\U0001f600": 2, "\ue000": 3}
    assert canonical_json(value) == '{"\U0001f600":2,"\ue000":3,"\uff01":1}'.encode()
