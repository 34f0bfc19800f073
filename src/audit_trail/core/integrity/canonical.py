"""RFC 8785 JSON Canonicalization Scheme (JCS): one byte string per JSON value.

The leaf bytes of the integrity log and every field digest are JCS, so a client in any
language can rebuild them: object members sorted by the UTF-16 code units of their
names, no insignificant whitespace, strings escaped minimally, numbers written as
ECMAScript's ``Number.prototype.toString`` writes them, UTF-8 throughout.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from json.encoder import encode_basestring

MAX_EXACT_INT = 2**53 - 1

_SURROGATE = re.compile("[\ud800-\udfff]")


def canonical_json(value: object) -> bytes:
    """The JCS form of ``value``, UTF-8 encoded.

    Accepts ``None``, ``bool``, ``int`` (``|i| <= 2**53-1``), finite ``float``, ``str``,
    ``list``/``tuple`` (arrays) and mappings with ``str`` keys (objects). Raises
    ``ValueError`` for a value JCS cannot represent exactly (NaN, infinities, larger
    integers, strings holding lone surrogates) and ``TypeError`` for any other type or
    a non-string key.
    """
    if type(value) is str:  # most committed fields are one string
        return _string(value).encode("utf-8")
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts).encode("utf-8")


def _write(value: object, out: list[str]) -> None:
    if type(value) is str:  # the common case first
        out.append(_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int):
        out.append(_integer(value))
    elif isinstance(value, float):
        out.append(format_number(value))
    elif isinstance(value, list | tuple):
        out.append("[")
        for position, item in enumerate(value):
            if position:
                out.append(",")
            _write(item, out)
        out.append("]")
    elif isinstance(value, Mapping):
        _write_object(value, out)
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def _write_object(value: Mapping[object, object], out: list[str]) -> None:
    keys: list[str] = []
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")
        keys.append(key)
    if all(key.isascii() for key in keys):  # the usual case: code points = UTF-16 units
        keys.sort()
    else:
        for key in keys:
            _refuse_surrogates(key)
        keys.sort(key=lambda k: k.encode("utf-16-be"))  # big-endian: bytes order = units
    out.append("{")
    first = True
    for key in keys:
        if not first:
            out.append(",")
        first = False
        out.append(encode_basestring(key))
        out.append(":")
        item = value[key]
        if type(item) is str:
            out.append(_string(item))
        else:
            _write(item, out)
    out.append("}")


def canonical_string(text: str) -> str:
    """The JCS form of one string (for writers of fixed-shape objects)."""
    return _string(text)


def _string(text: str) -> str:
    # the standard library's C encoder escapes exactly what JCS escapes: '"', '\\' and
    # the controls below U+0020 (\b \t \n \f \r short, the rest as lower-case \u00xx)
    if not text.isascii():
        _refuse_surrogates(text)
    escaped: str = encode_basestring(text)
    return escaped


def _refuse_surrogates(text: str) -> None:
    found = _SURROGATE.search(text)
    if found is not None:
        raise ValueError(
            f"string holds a lone surrogate U+{ord(found.group()):04X} at {found.start()}; "
            "it has no UTF-8 form"
        )


def _integer(value: int) -> str:
    if abs(value) > MAX_EXACT_INT:
        raise ValueError(
            f"{value}: integers beyond 2**53-1 cannot be represented exactly in JSON canonical form"
        )
    return str(value)


def format_number(value: float) -> str:
    """``value`` as ECMAScript's ``Number.prototype.toString`` (ES2015 and later) writes
    it: the shortest digits that round-trip, ``-0`` as ``0``, plain notation for
    decimal exponents from -6 to 20, otherwise ``1e+21`` / ``1.5e-7`` style."""
    if not math.isfinite(value):
        raise ValueError(f"{value} has no JSON form (NaN and infinities are not numbers in JSON)")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits, point = _shortest_digits(abs(value))
    count = len(digits)
    if count <= point <= 21:
        return sign + digits + "0" * (point - count)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    exponent = point - 1
    mantissa = digits if count == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{mantissa}e{'+' if exponent > 0 else '-'}{abs(exponent)}"


def _shortest_digits(value: float) -> tuple[str, int]:
    """(s, n) with ``value == 0.s * 10**n``, s the shortest round-trip digits, no leading
    or trailing zeros. Python's ``repr`` is correctly rounded and shortest, as ES is."""
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    return stripped.rstrip("0"), point
