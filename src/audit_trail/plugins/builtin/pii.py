"""Built-in plugin ``pii``: personal data and secrets never reach storage; ``source.ip``
is shown to audit:admin only.

Before storage (``audit_redact_entry``, ``trylast`` so it sees what other redactors
left) it masks, in every string of ``metadata`` (values and keys, at any depth),
``actor.name``, ``target.name``, ``tags`` and ``source.user_agent``:

- e-mail addresses (``ada@example.com`` -> ``a***@example.com``);
- card numbers: 13-19 digits, spaces or dashes between groups, passing the Luhn check
  (-> ``**** **** **** 4242``);
- IBANs passing the mod-97 check, compact or in groups (-> ``DE** **** 3000``);
- credentials: ``Bearer <token>``, JWTs, ``sk_live_...``-style keys, AWS access key
  ids, GitHub and Slack tokens, ``api_key=...``/``password: ...``-style pairs;
- every match of the ``pii_patterns`` setting (regular expressions; -> ``***``).

Whole values are masked (-> ``***``) under metadata keys that name a credential
(``password``, ``secret``, ``token``, ``api_key``, ``authorization``, ...; case, ``_``
and ``-`` ignored) and at the ``pii_fields`` setting's paths: dotted metadata paths
such as ``customer.phone`` (a leading ``metadata.`` is allowed), where ``*`` matches
any key and lists are looked through. ``actor.id`` and ``target.id`` are left alone:
queries filter on them, so send pseudonymous ids.

On the way out (``audit_redact_for_reader``) ``source.ip`` is removed unless the
reader holds audit:admin.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

from audit_trail.core.model import Entry, JsonValue
from audit_trail.core.principal import Principal, Scope
from audit_trail.plugins.builtin.detectors import MASK, TextRedactor
from audit_trail.plugins.errors import PluginSetupError
from audit_trail.plugins.hookspecs import hookimpl

CREDENTIAL_KEYS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "clientsecret",
        "token",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "apikey",
        "authorization",
        "privatekey",
        "cookie",
    }
)

Path = tuple[str, ...]
Mask = Callable[[str], str]

# Never part of a trigger match (see detectors), so a trigger matches the joined
# strings of an entry exactly when it matches one of them.
_SEPARATOR = "\0"
_KEY_NOISE = re.compile(r"[\s_-]")


def compile_patterns(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    """The ``pii_patterns`` setting, compiled; ``PluginSetupError`` naming a bad one."""
    compiled = []
    for pattern in patterns:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise PluginSetupError(
                f"AUDIT_PII_PATTERNS: {pattern!r} is not a regular expression: {exc}"
            ) from None
        if regex.search("") is not None or regex.search(MASK) is not None:
            raise PluginSetupError(
                f"AUDIT_PII_PATTERNS: {pattern!r} matches empty text or the mask {MASK!r}"
            )
        compiled.append(regex)
    return tuple(compiled)


def parse_paths(fields: Iterable[str]) -> tuple[Path, ...]:
    """The ``pii_fields`` setting as key paths into metadata."""
    paths = []
    for field in fields:
        path = tuple(field.strip().removeprefix("metadata.").split("."))
        if not all(path):
            raise PluginSetupError(f"AUDIT_PII_FIELDS: {field!r} is not a dotted metadata path")
        paths.append(path)
    return tuple(paths)


@lru_cache(maxsize=4096)  # metadata keys repeat from entry to entry
def is_credential_key(key: str) -> bool:
    return _KEY_NOISE.sub("", key).lower() in CREDENTIAL_KEYS


class PiiRedactor:
    """The ``pii`` plugin, configured (see the module docstring)."""

    def __init__(self, fields: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        self.text = TextRedactor(compile_patterns(patterns))
        self.paths = parse_paths(fields)

    @hookimpl(trylast=True)
    def audit_redact_entry(self, entry: Entry) -> Entry:
        return self.redact(entry)

    @hookimpl(trylast=True)
    def audit_redact_for_reader(self, entry: Entry, principal: Principal) -> Entry | None:
        if entry.source.ip is None or principal.has(Scope.ADMIN):
            return None
        return replace(entry, source=replace(entry.source, ip=None))

    def redact(self, entry: Entry) -> Entry:
        changes: dict[str, Any] = {}
        mask = self._mask_for(entry)
        if mask is not None:
            changes = self._masked(entry, mask)
        tags = tuple(dict.fromkeys(entry.tags if mask is None else map(mask, entry.tags)))
        if tags != entry.tags:
            changes["tags"] = tags
        return replace(entry, **changes) if changes else entry

    def _mask_for(self, entry: Entry) -> Mask | None:
        """How to mask the entry's text; None when nothing in it is to be masked.

        Most entries hold no personal data: one look for the detectors' triggers in all
        their strings at once spares a look in each string, and when no trigger
        matches, no key names a credential and no path is configured, there is
        nothing to mask at all."""
        strings: list[str] = []
        keys: list[str] = []
        _collect_strings(entry, strings, keys)
        if self.text.may_find(_SEPARATOR.join(strings)):
            return self.text.redact
        if self.text.untriggered or self.paths or any(map(is_credential_key, keys)):
            return self.text.redact_screened
        return None

    def _masked(self, entry: Entry, mask: Mask) -> dict[str, Any]:
        """The fields of ``entry`` that ``mask`` changes, masked."""
        changes: dict[str, Any] = {"metadata": self._mapping(entry.metadata, (), mask)}
        if entry.actor.name is not None and (name := mask(entry.actor.name)) != entry.actor.name:
            changes["actor"] = replace(entry.actor, name=name)
        target = entry.target
        if (
            target is not None
            and target.name is not None
            and (name := mask(target.name)) != target.name
        ):
            changes["target"] = replace(target, name=name)
        agent = entry.source.user_agent
        if agent is not None and (masked := mask(agent)) != agent:
            changes["source"] = replace(entry.source, user_agent=masked)
        return changes

    def _mapping(
        self, mapping: Mapping[str, JsonValue], path: Path, mask: Mask
    ) -> dict[str, JsonValue]:
        redacted: dict[str, JsonValue] = {}
        for key, value in mapping.items():
            child = (*path, key) if self.paths else path
            new_key = mask(key)
            if new_key in redacted:  # two keys masked alike: keep both
                new_key = _unique(new_key, redacted)
            if is_credential_key(key) or self._listed(child):
                redacted[new_key] = MASK
            else:
                redacted[new_key] = self._value(value, child, mask)
        return redacted

    def _value(self, value: JsonValue, path: Path, mask: Mask) -> JsonValue:
        if isinstance(value, str):
            return mask(value)
        if isinstance(value, dict | Mapping):  # dict first: the ABC check is slow
            return self._mapping(value, path, mask)
        if isinstance(value, list | tuple):
            return [self._value(item, path, mask) for item in value]
        return value

    def _listed(self, path: Path) -> bool:
        return bool(self.paths) and any(
            len(listed) == len(path)
            and all(want in ("*", key) for want, key in zip(listed, path, strict=True))
            for listed in self.paths
        )


def _collect_strings(entry: Entry, into: list[str], keys: list[str]) -> None:
    """Every string ``redact`` masks text in; the metadata keys also into ``keys``."""
    for value in (entry.actor.name, entry.source.user_agent):
        if value is not None:
            into.append(value)
    if entry.target is not None and entry.target.name is not None:
        into.append(entry.target.name)
    into.extend(entry.tags)
    _collect_metadata(entry.metadata, into, keys)


def _collect_metadata(value: JsonValue, into: list[str], keys: list[str]) -> None:
    if isinstance(value, str):
        into.append(value)
    elif isinstance(value, dict | Mapping):
        keys.extend(value)
        into.extend(value)
        for item in value.values():
            _collect_metadata(item, into, keys)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect_metadata(item, into, keys)


def _unique(key: str, taken: Mapping[str, Any]) -> str:
    number = 2
    while f"{key} #{number}" in taken:
        number += 1
    return f"{key} #{number}"


@hookimpl
def audit_configure(config: Mapping[str, Any]) -> PiiRedactor:
    return PiiRedactor(config.get("pii_fields", ()), config.get("pii_patterns", ()))
