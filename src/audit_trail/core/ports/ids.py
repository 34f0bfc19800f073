"""IdFactory: new entry ids."""

from __future__ import annotations

from typing import Protocol


class IdFactory(Protocol):
    def new_id(self) -> str:
        """A new id: URL-safe, unique across processes, and ordered by creation time
        (ids made later in one process sort after earlier ones)."""
        ...
