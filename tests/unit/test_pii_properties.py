"""Properties of the pii plugin's redaction, over entries hiding personal data and
secrets inside random text, at random depths of metadata, in names and in tags."""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_trail.core import Actor, Entry, Target
from audit_trail.plugins.builtin.detectors import MASK, MAX_PASSES, iban_valid, luhn_valid
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


# --- the triggers, and time linear in the length of the text ---------------------------

TEXT = REDACTOR.text
near_misses = st.sampled_from(
    ["@", "bearer ", "token:", "eyJ", "sk_live_", "AKIA", "ghp_", "xoxb-", "DE89", "4242 "]
)
noisy_texts = st.lists(st.one_of(secrets, near_misses, filler), max_size=6).map("".join)


def reference_redact(text: str) -> str:
    """Every detector on every pass, triggers ignored (what ``redact`` must equal)."""
    for _ in range(MAX_PASSES):
        found = False
        for detector in TEXT.detectors:
            spans = sorted(detector.find(text), key=lambda s: (s[0], -s[1]))
            position, parts = 0, []
            for start, end, replacement in spans:
                if start >= position:
                    parts += [text[position:start], replacement]
                    position = end
            if spans:
                found = True
                text = "".join([*parts, text[position:]])
        if not found:
            return text
    return MASK


@settings(max_examples=300, deadline=None)
@given(noisy_texts)
def test_a_text_no_trigger_matches_holds_nothing_to_mask(text: str) -> None:
    if not TEXT.may_find(text):
        assert [found for found in TEXT.find(text) if not found[0].startswith("pattern")] == []


@settings(max_examples=300, deadline=None)
@given(noisy_texts)
def test_the_triggers_change_no_redaction(text: str) -> None:
    assert TEXT.redact(text) == reference_redact(text)


def test_case_insensitive_triggers_know_every_case_form_of_their_letters() -> None:
    """The credential triggers spell d, n, t, y and "bearer" as [Xx] classes: no other
    character matches those letters under re.IGNORECASE."""
    every_character = "".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, 0x110000)))
    for letter in "dntybear":
        forms = set(re.findall(f"(?i){letter}", every_character))
        assert forms == {letter, letter.upper()}, letter


ADVERSARIAL = {
    "digits": lambda n: "1" * n,
    "digit groups": lambda n: "1234 " * (n // 5),
    "short digit groups": lambda n: "1 " * (n // 2),
    "at signs": lambda n: "a@" * (n // 2),
    "domain without tld": lambda n: "x@" + "a." * (n // 2),
    "local part": lambda n: "a" * n + "@",
    "iban starts": lambda n: "DE89 " * (n // 5),
    "iban run": lambda n: "DE89" + "A" * n,
    "bearer and blanks": lambda n: "bearer" + " " * n,
    "jwt head": lambda n: "eyJ" + "a" * n,
    "credential words": lambda n: "password=" * (n // 9),
    "credential and blanks": lambda n: "token" + " " * n + "x",
    "emails": lambda n: "ab@example.com " * (n // 15),
    "cards": lambda n: "4242 4242 4242 4242 " * (n // 20),
    "masks forming": lambda n: "x@a.bc@" * (n // 7),
}


@pytest.mark.parametrize("make", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_redaction_time_grows_linearly_with_the_text(make: Callable[[int], str]) -> None:
    """Eight times the text may take about eight times as long, not 64 (a quadratic
    scan). CPU time of this process, best of five, so that other processes on a busy
    machine do not count; the bound (32x) still leaves room for noise."""

    def seconds(size: int) -> float:
        text = make(size)
        best = float("inf")
        for _ in range(5):
            started = time.process_time()
            TEXT.redact(text)
            best = min(best, time.process_time() - started)
        return best

    small, large = seconds(5_000), seconds(40_000)
    assert large < 32 * small + 0.005, (small, large)
