"""Issue 12's bound: an export of 100,000 entries from a real ``audit-trail serve``
process (SQLite) streams in bounded server memory and verifies offline.

The rate is a benchmark, not asserted here: scripts/export_bench.py prints it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.integration.export_load import export, seed, serving

ENTRIES = 100_000
RSS_GROWTH_MIB = 50

pytestmark = pytest.mark.timeout(180)


def test_a_100k_export_streams_in_bounded_memory_and_verifies_offline(tmp_path: Path) -> None:
    with serving(tmp_path / "work") as served:
        asyncio.run(seed(served, ENTRIES))
        run = export(served, tmp_path / "export.ndjson")
    assert run.verified.failures == []
    assert run.entries == ENTRIES
    assert run.verified.checkpoint is not None
    assert run.verified.checkpoint.size == ENTRIES
    assert run.rss_growth_mib < RSS_GROWTH_MIB, (
        f"the server's RSS grew by {run.rss_growth_mib:.1f} MiB "
        f"({run.rss_before_kib} KiB before, {run.rss_max_kib} KiB at most during the export)"
    )
