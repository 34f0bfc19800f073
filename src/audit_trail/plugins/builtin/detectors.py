"""Finding and masking personal data and secrets in text, for the ``pii`` plugin.

Each detector finds spans of one kind and says what replaces each span; a mask keeps a
short hint (``a***@example.com``, ``**** **** **** 4242``, ``DE** **** 3000``,
``sk_live_***``). ``TextRedactor`` applies every detector until none finds anything,
so its output never matches any of them and redacting twice changes nothing.

Most strings hold nothing to mask, so each built-in detector also names *triggers*:
short precompiled patterns one of which every text it finds something in matches. A
string no trigger matches is returned as it is, after one scan per trigger (the pii
plugin scans all the strings of an entry at once). Every pattern here is linear in the
length of the text:
no nested or overlapping repetition, and where a repetition could restart at every
position a look-behind lets a match start only where a word does.
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
    """``find`` returns the spans to replace. ``triggers`` are patterns of which at
    least one matches every text in which ``find`` finds anything: a necessary
    condition, cheap to test (each starts with a literal or a character class, so the
    regex engine skips quickly to where it could match). Without triggers ``find``
    always runs."""

    name: str
    find: Callable[[str], list[Span]]
    triggers: tuple[re.Pattern[str], ...] = ()


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


# Each trigger is a weaker form of what its detector matches (a test checks that).
# ``(?i)`` would make the engine try every position, so the two case-insensitive token
# rules get explicit classes: the last letter of each credential word (d, n, t, y:
# letters with no other case form in Unicode) before the ``=``/``:``, and "bearer".
_TOKEN_TRIGGERS = (
    re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr]\s"),
    re.compile(r"[DdNnTtYy]\s*[=:]"),
    re.compile(r"yJ|_live_|_test_|KIA|SIA|gh[pousr]_|xox"),
)

BUILT_IN_DETECTORS = (
    Detector("iban", find_ibans, (re.compile(r"[A-Z]{2}[0-9]{2}"),)),
    Detector("token", find_tokens, _TOKEN_TRIGGERS),
    Detector("email", find_emails, (re.compile("@"),)),
    # 13 to 19 digits with single spaces or dashes between groups
    Detector("card", find_cards, (re.compile(r"[0-9][0-9 -]{12}"),)),
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
    matches) is replaced by ``***`` whole. Each pass first looks for the detectors'
    triggers; when none matches, only the detectors without triggers (``patterns``)
    run, so a string without personal data is scanned once per trigger and pattern."""

    def __init__(self, patterns: Iterable[re.Pattern[str]] = ()) -> None:
        self.detectors = (*BUILT_IN_DETECTORS, *(pattern_detector(p) for p in patterns))
        self.triggers = tuple(t for d in self.detectors for t in d.triggers)
        self.untriggered = tuple(d for d in self.detectors if not d.triggers)

    def may_find(self, text: str) -> bool:
        """False only if no detector with triggers can find anything in ``text``."""
        return any(trigger.search(text) is not None for trigger in self.triggers)

    def find(self, text: str) -> list[tuple[str, str]]:
        """(detector name, matched text) for everything a detector finds in ``text``."""
        return [
            (detector.name, text[start:end])
            for detector in self.detectors
            for start, end, _ in detector.find(text)
        ]

    def redact_screened(self, text: str) -> str:
        """``redact(text)`` for a text the caller knows ``may_find`` is False for."""
        return self.redact(text, screened=True) if self.untriggered else text

    def redact(self, text: str, screened: bool = False) -> str:
        """``text`` masked. ``screened``: the caller knows ``may_find(text)`` is False."""
        for _ in range(MAX_PASSES):
            found = False
            clean = screened or not self.may_find(text)
            screened = False  # a pass that masks something changes the text
            for detector in self.untriggered if clean else self.detectors:
                spans = detector.find(text)
                if spans:
                    found = True
                    text = _apply(text, spans)
            if not found:
                return text
        return MASK
