"""The query index: index keys, posting logs and the map that make a query provable."""

from __future__ import annotations
