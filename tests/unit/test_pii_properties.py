"""Properties of the pii plugin's redaction, over entries hiding personal data and
secrets inside random text, at random depths of metadata, in names and in tags."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from audit_trail.core import Actor, Entry, Target
from audit_trail.plugins.builtin.detectors import iban_valid, luhn_valid
from audit_trail.plugins.builtin.pii import PiiRedactor
from tests.unit.test_plugin_support import make_entry

EXTRA_PATTERN = r"EMP-\d{6}"
REDACTOR = PiiRedactor(fields=("customer.phone",), patterns=(EXTRA_PATTERN,))

ALNUM = string.ascii_letters + string.digits


# --- secrets ----------------------------------------------------------------------------


@st.composite
def emails(draw: st.DrawFn) -> str:
    local = draw(st.text(ALNUM + "._%+-", min_size=1, max_size=12))
    labels = draw(st.lists(st.text(ALNUM, min_size=1, max_size=8), min_size=1, max_size=3))
    tld = draw(st.text(string.ascii_letters, min_size=2, max_size=6))
    return f"{local}@{'.'.join(labels)}.{tld}"


def _luhn_completed(body: str) -> str:
    return next(body + digit for digit in string.digits if luhn_valid(body + digit))


@st.composite
def cards(draw: st.DrawFn) -> str:
    body = draw(st.text(string.digits, min_size=12, max_size=18))
    number = _luhn_completed(body)
    separator = draw(st.sampled_from(["", " ", "-"]))
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country = draw(st.text(string.ascii_uppercase, min_size=2, max_size=2))
    bban = draw(st.text(string.ascii_uppercase + string.digits, min_size=11, max_size=30))
    check = 98 - int("".join(str(int(c, 36)) for c in bban + country + "00")) % 97
    iban = f"{country}{check:02d}{bban}"
    assert iban_valid(iban)
    if draw(st.booleans()):
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban


_TOKEN_CHARS = st.text(ALNUM, min_size=8, max_size=30)
tokens = st.one_of(
    _TOKEN_CHARS.map(lambda t: f"Bearer {t}"),
    _TOKEN_CHARS.map(lambda t: f"sk_live_{t}"),
    st.text(string.ascii_uppercase + string.digits, min_size=16, max_size=16).map(
        lambda t: f"AKIA{t}"
    ),
    st.tuples(st.sampled_from(["api_key", "apikey", "password", "token"]), _TOKEN_CHARS).map(
        lambda kv: f"{kv[0]}={kv[1]}"
    ),
)
extra = st.text(string.digits, min_size=6, max_size=6).map(lambda d: f"EMP-{d}")

secrets = st.one_of(emails(), cards(), ibans(), tokens, extra)
key_secrets = st.one_of(cards(), extra)  # metadata keys cannot hold '.', so no e-mails

filler = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


@st.composite
def texts_with(draw: st.DrawFn, hidden: st.SearchStrategy[str] = secrets) -> str:
    """Random text with zero to three secrets inside, each set off by spaces."""
    parts = [draw(filler)]
    for secret in draw(st.lists(hidden, max_size=3)):
        parts += [secret, draw(filler)]
    return " ".join(parts)


# --- entries ------------------------------------------------------------------------------

keys = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="\x00.$"), min_size=1, max_size=8),
    texts_with(key_secrets).filter(lambda k: k and "." not in k and not k.startswith("$")),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), texts_with())
metadata_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=12,
)


@st.composite
def entries(draw: st.DrawFn) -> Entry:
    return make_entry(
        actor=Actor(id="u-1", name=draw(st.none() | texts_with())),
        target=Target(type="doc", id="d-1", name=draw(st.none() | texts_with())),
        tags=tuple(draw(st.lists(texts_with(), max_size=4))),
        metadata=draw(st.dictionaries(keys, metadata_values, max_size=4)),
    )


def strings_of(entry: Entry) -> Iterator[str]:
    """Every string of an entry a client could put personal data into."""
    yield from (s for s in (entry.actor.name, entry.source.user_agent) if s is not None)
    if entry.target is not None and entry.target.name is not None:
        yield entry.target.name
    yield from entry.tags
    yield from _strings(entry.metadata)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


# --- properties ---------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(entries())
def test_redaction_is_idempotent(entry: Entry) -> None:
    once = REDACTOR.redact(entry)
    assert REDACTOR.redact(once) == once


@settings(max_examples=200, deadline=None)
@given(entries())
def test_after_redaction_no_string_matches_any_pattern(entry: Entry) -> None:
    redacted = REDACTOR.redact(entry)
    for text in strings_of(redacted):
        assert REDACTOR.text.find(text) == [], text


@settings(max_examples=200, deadline=None)
@given(st.lists(secrets, min_size=1, max_size=3), filler, filler, st.integers(1, 7))
def test_a_hidden_secret_is_gone_at_any_depth(
    hidden: list[str], before: str, after: str, depth: int
) -> None:
    text = " ".join([before, *hidden, after])
    metadata: Any = text
    for level in range(depth):
        metadata = {f"level{level}": metadata} if level % 2 else [metadata]
    entry = make_entry(metadata={"root": metadata}, tags=(text,), actor=Actor("u", name=text))
    redacted = REDACTOR.redact(entry)
    for secret in hidden:
        for value in strings_of(redacted):
            assert secret not in value


@given(st.text(string.digits, min_size=12, max_size=18))
def test_generated_cards_are_what_the_detector_means(body: str) -> None:
    number = _luhn_completed(body)
    assert re.fullmatch(r"\d{13,19}", number)
    assert REDACTOR.text.find(number) != []
