"""JsonEncoder: JSON values to the bytes that pages are cached and sent as."""

from __future__ import annotations

from typing import Any, Protocol


class JsonEncoder(Protocol):
    """Encodes JSON values exactly as ``json.dumps(value, separators=(",", ":"))``
    does, as bytes: compact, keys in their order, every character beyond ASCII (and
    DEL) as a ``\\u`` escape, floats as ``repr`` writes them. Cached pages are in this
    format, so every encoder must give the same bytes; a value ``json.dumps`` refuses
    is refused with the same error."""

    def encode(self, value: Any) -> bytes: ...
