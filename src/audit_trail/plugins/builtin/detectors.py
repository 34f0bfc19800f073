"""Finding and masking personal data and secrets in text, for the ``pii`` plugin.

Each detector finds spans of one kind and says what replaces each span; a mask keeps a
short hint (``a***@example.com``, ``**** **** **** 4242``, ``DE** **** 3000``,
``sk_live_***``). ``TextRedactor`` applies every detector until none finds anything,
so its output never matches any of them and redacting twice changes nothing.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

MASK = "***"
MAX_PASSES = 8

Span = tuple[int, int, str]
"""Start, end, and the text that replaces ``text[start:end]``."""


@dataclass(frozen=True, slots=True)
class Detector:
    name: str
    find: Callable[[str], list[Span]]


# --- e-mail addresses ---------------------------------------------------------------

# The look-behind keeps matching linear: a match may only start where a local part does.
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def find_emails(text: str) -> list[Span]:
    spans = []
    for match in _EMAIL.finditer(text):
        local, domain = match.group().split("@", 1)
        spans.append((match.start(), match.end(), f"{local[0]}{MASK}@{domain}"))
    return spans


# --- card numbers: 13-19 digits, single spaces or dashes between groups, Luhn-valid ---

_DIGIT_RUN = re.compile(r"[0-9]+(?:[ -][0-9]+)*")
_DIGITS = re.compile(r"[0-9]+")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def find_cards(text: str) -> list[Span]:
    """Within each run of digit groups, the longest Luhn-valid window of whole groups
    holding 13-19 digits, leftmost first. Cards are written whole or in groups of four
    or more digits, so every group of a window but its last holds at least four (which
    also keeps long runs of short groups cheap to scan)."""
    spans = []
    for run in _DIGIT_RUN.finditer(text):
        groups = [m.group() for m in _DIGITS.finditer(text, run.start(), run.end())]
        starts = [m.start() for m in _DIGITS.finditer(text, run.start(), run.end())]
        first = 0
        while first < len(groups):
            found: tuple[int, str] | None = None
            digits = ""
            for last in range(first, len(groups)):
                digits += groups[last]
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and luhn_valid(digits):
                    found = (last, digits)
                if len(groups[last]) < 4:
                    break
            if found is None:
                first += 1
                continue
            last, digits = found
            end = starts[last] + len(groups[last])
            spans.append((starts[first], end, f"**** **** **** {digits[-4:]}"))
            first = last + 1
    return spans


# --- IBANs: country, check digits, 11-30 more; single spaces allowed; mod-97 check ---

_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}")
_IBAN_GROUP = re.compile(r"[A-Z0-9]+")
_AS_DIGITS = str.maketrans({letter: str(int(letter, 36)) for letter in string.ascii_uppercase})


def iban_valid(compact: str) -> bool:
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def find_ibans(text: str) -> list[Span]:
    spans: list[Span] = []
    for start in _IBAN_START.finditer(text):
        if spans and start.start() < spans[-1][1]:
            continue
        valid = [c for c in _iban_candidates(text, start.start()) if c[2]]
        if valid:
            end, compact, _ = valid[-1]
            spans.append((start.start(), end, f"{compact[:2]}** **** {compact[-4:]}"))
    return spans


def _iban_candidates(text: str, position: int) -> list[tuple[int, str, bool]]:
    """Each (end, characters, passes mod-97) where an IBAN starting at ``position``
    could end: after a group of capitals and digits not followed by a letter or digit.
    The check is computed as the characters come (same result as ``iban_valid``)."""
    candidates = []
    compact = ""
    head = int(text[position : position + 4].translate(_AS_DIGITS))
    rest = 0  # the number of compact[4:], letters as two digits each, modulo 97
    while group := _IBAN_GROUP.match(text, position):
        chunk = group.group() if compact else group.group()[4:]
        compact += group.group()
        end = group.end()
        if len(compact) > 34 or (end < len(text) and text[end].isalnum()):
            break
        if chunk:
            digits = chunk.translate(_AS_DIGITS)
            rest = (rest * pow(10, len(digits), 97) + int(digits)) % 97
        valid = len(compact) >= 15 and (rest * 10**6 + head) % 97 == 1
        candidates.append((end, compact, valid))
        if text[end : end + 1] != " ":
            break
        position = end + 1
    return candidates


# --- bearer tokens, API keys and other credentials -------------------------------------


def _keep_prefix(match: re.Match[str]) -> str:
    return f"{match.group(1)}{MASK}"


def _keep_key(match: re.Match[str]) -> str:
    return f"{match.group(1)}{match.group(2)}{MASK}"


_EDGE = r"(?<![A-Za-z0-9])"  # not inside a word
_TOKEN_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(rf"(?i){_EDGE}(bearer)(\s+)[A-Za-z0-9._~+/-]{{8,}}=*"), _keep_key),
    (
        re.compile(rf"{_EDGE}(eyJ)[A-Za-z0-9_-]{{5,}}\.[A-Za-z0-9_-]{{5,}}\.[A-Za-z0-9_-]*"),
        _keep_prefix,
    ),
    (re.compile(rf"{_EDGE}((?:sk|pk|rk)_(?:live|test)_)[A-Za-z0-9]{{8,}}"), _keep_prefix),
    (re.compile(rf"{_EDGE}(AKIA|ASIA)[0-9A-Z]{{16}}(?![A-Za-z0-9])"), _keep_prefix),
    (re.compile(rf"{_EDGE}(gh[pousr]_)[A-Za-z0-9]{{30,}}"), _keep_prefix),
    (re.compile(rf"{_EDGE}(xox[abposr]-)[A-Za-z0-9-]{{10,}}"), _keep_prefix),
    (
        re.compile(
            rf"(?i){_EDGE}"
            r"(api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret|secret"
            r"|password|passwd|token)"
            r"(\s*[=:]\s*[\"']?)"
            r"(?!\*\*\*(?:[\s\"'&,;]|$))[^\s\"'&,;]+"
        ),
        _keep_key,
    ),
)


def find_tokens(text: str) -> list[Span]:
    spans: list[Span] = []
    for pattern, mask in _TOKEN_RULES:
        spans.extend((m.start(), m.end(), mask(m)) for m in pattern.finditer(text))
    return _without_overlaps(spans)


# --- patterns from the settings ---------------------------------------------------------


def pattern_detector(pattern: re.Pattern[str]) -> Detector:
    """Masks every match of ``pattern`` whole."""

    def find(text: str) -> list[Span]:
        return [(m.start(), m.end(), MASK) for m in pattern.finditer(text) if m.end() > m.start()]

    return Detector(f"pattern {pattern.pattern!r}", find)


BUILT_IN_DETECTORS = (
    Detector("iban", find_ibans),
    Detector("token", find_tokens),
    Detector("email", find_emails),
    Detector("card", find_cards),
)


def _without_overlaps(spans: Iterable[Span]) -> list[Span]:
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (s[0], -s[1])):
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


def _apply(text: str, spans: Sequence[Span]) -> str:
    parts = []
    position = 0
    for start, end, replacement in _without_overlaps(spans):
        parts.append(text[position:start])
        parts.append(replacement)
        position = end
    parts.append(text[position:])
    return "".join(parts)


class TextRedactor:
    """Masks what the built-in detectors and ``patterns`` find, until nothing is found.

    A string still changing after ``MAX_PASSES`` passes (masks keep forming new
    matches) is replaced by ``***`` whole."""

    def __init__(self, patterns: Iterable[re.Pattern[str]] = ()) -> None:
        self.detectors = (*BUILT_IN_DETECTORS, *(pattern_detector(p) for p in patterns))

    def find(self, text: str) -> list[tuple[str, str]]:
        """(detector name, matched text) for everything a detector finds in ``text``."""
        return [
            (detector.name, text[start:end])
            for detector in self.detectors
            for start, end, _ in detector.find(text)
        ]

    def redact(self, text: str) -> str:
        for _ in range(MAX_PASSES):
            found = False
            for detector in self.detectors:
                spans = detector.find(text)
                if spans:
                    found = True
                    text = _apply(text, spans)
            if not found:
                return text
        return MASK
