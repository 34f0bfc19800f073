"""Just enough of JSON Schema 2020-12 to check values against the OpenAPI document.

It knows the keywords the document uses and refuses any other, so a schema it cannot
read fails the test instead of passing it. Regexes are Python's, which agree with
ECMA-262 on the plain patterns the document holds once a final ``$`` means the end of
the text (Python's ``$`` also matches before a final newline).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Schema = Mapping[str, Any]

_ANNOTATIONS = frozenset({"description", "examples", "default", "format", "title", "$defs"})


def _search(pattern: str, text: str) -> bool:
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + "\\Z"
    return re.search(pattern, text) is not None


def _is_type(value: object, name: str) -> bool:
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return name == "number" or (name == "integer" and float(value).is_integer())


class SchemaChecker:
    """``valid(schema, value)``: whether ``value`` matches ``schema`` of ``document``."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._document = document

    def resolve(self, reference: str) -> Schema:
        node: Any = self._document
        for part in reference.removeprefix("#/").split("/"):
            node = node[part]
        return dict(node)

    def valid(self, schema: Schema, value: object) -> bool:
        return all(
            self._keyword(name, argument, schema, value)
            for name, argument in schema.items()
            if name not in _ANNOTATIONS
        )

    def _keyword(self, name: str, argument: Any, schema: Schema, value: object) -> bool:
        check = self._checks().get(name)
        if check is None:
            raise NotImplementedError(f"JSON Schema keyword {name!r} is not supported here")
        return check(argument, schema, value)

    def _checks(self) -> dict[str, Callable[[Any, Schema, Any], bool]]:
        strings = (str,)
        return {
            "$ref": lambda ref, _, v: self.valid(self.resolve(ref), v),
            "type": lambda t, _, v: any(_is_type(v, n) for n in ([t] if isinstance(t, str) else t)),
            "enum": lambda options, _, v: v in options,
            "const": lambda constant, _, v: v == constant,
            "anyOf": lambda schemas, _, v: any(self.valid(s, v) for s in schemas),
            "not": lambda s, _, v: not self.valid(s, v),
            "pattern": lambda p, _, v: not isinstance(v, strings) or _search(p, v),
            "minLength": lambda n, _, v: not isinstance(v, strings) or len(v) >= n,
            "maxLength": lambda n, _, v: not isinstance(v, strings) or len(v) <= n,
            "minimum": lambda n, _, v: not _is_type(v, "number") or v >= n,
            "maximum": lambda n, _, v: not _is_type(v, "number") or v <= n,
            "exclusiveMinimum": lambda n, _, v: not _is_type(v, "number") or v > n,
            "minProperties": lambda n, _, v: not isinstance(v, dict) or len(v) >= n,
            "minItems": lambda n, _, v: not isinstance(v, list) or len(v) >= n,
            "maxItems": lambda n, _, v: not isinstance(v, list) or len(v) <= n,
            "items": lambda s, _, v: not isinstance(v, list) or all(self.valid(s, i) for i in v),
            "required": lambda names, _, v: not isinstance(v, dict) or set(names) <= v.keys(),
            "properties": lambda props, _, v: (
                not isinstance(v, dict)
                or all(self.valid(props[k], v[k]) for k in props.keys() & v.keys())
            ),
            "additionalProperties": self._additional,
            "propertyNames": lambda s, _, v: (
                not isinstance(v, dict) or all(self.valid(s, k) for k in v)
            ),
        }

    def _additional(self, argument: Any, schema: Schema, value: object) -> bool:
        if not isinstance(value, dict):
            return True
        extra = [v for k, v in value.items() if k not in schema.get("properties", {})]
        if argument is False:
            return not extra
        return argument is True or all(self.valid(argument, v) for v in extra)
