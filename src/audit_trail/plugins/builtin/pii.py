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
from collections.abc import Iterable, Mapping
from dataclasses import replace
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


def is_credential_key(key: str) -> bool:
    return re.sub(r"[\s_-]", "", key).lower() in CREDENTIAL_KEYS


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
        return replace(
            entry,
            actor=replace(entry.actor, name=self._optional(entry.actor.name)),
            target=None
            if entry.target is None
            else replace(entry.target, name=self._optional(entry.target.name)),
            tags=tuple(dict.fromkeys(self.text.redact(tag) for tag in entry.tags)),
            metadata=self._mapping(entry.metadata, ()),
            source=replace(entry.source, user_agent=self._optional(entry.source.user_agent)),
        )

    def _optional(self, value: str | None) -> str | None:
        return None if value is None else self.text.redact(value)

    def _mapping(self, mapping: Mapping[str, JsonValue], path: Path) -> dict[str, JsonValue]:
        redacted: dict[str, JsonValue] = {}
        for key, value in mapping.items():
            child = (*path, key)
            masked = MASK if is_credential_key(key) or self._listed(child) else None
            new_key = self.text.redact(key)
            if new_key in redacted:  # two keys masked alike: keep both
                new_key = _unique(new_key, redacted)
            redacted[new_key] = masked if masked is not None else self._value(value, child)
        return redacted

    def _value(self, value: JsonValue, path: Path) -> JsonValue:
        if isinstance(value, str):
            return self.text.redact(value)
        if isinstance(value, Mapping):
            return self._mapping(value, path)
        if isinstance(value, list | tuple):
            return [self._value(item, path) for item in value]
        return value

    def _listed(self, path: Path) -> bool:
        return any(
            len(listed) == len(path)
            and all(want in ("*", key) for want, key in zip(listed, path, strict=True))
            for listed in self.paths
        )


def _unique(key: str, taken: Mapping[str, Any]) -> str:
    number = 2
    while f"{key} #{number}" in taken:
        number += 1
    return f"{key} #{number}"


@hookimpl
def audit_configure(config: Mapping[str, Any]) -> PiiRedactor:
    return PiiRedactor(config.get("pii_fields", ()), config.get("pii_patterns", ()))
