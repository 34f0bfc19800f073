"""Entry ids (UlidIdFactory) and clocks (SystemClock, FixedClock)."""

from __future__ import annotations

import multiprocessing
import re
import subprocess
import sys
import types
from datetime import UTC, datetime, timedelta, timezone
from multiprocessing.queues import Queue

import pytest

from audit_trail.adapters import ids as ids_module
from audit_trail.adapters.clock import FixedClock, SystemClock
from audit_trail.adapters.ids import UlidIdFactory

ID_FORMAT = re.compile(r"[0-9A-Z]{26}")
FROZEN_NS = 1_800_000_000_123_456_789


def freeze_time(monkeypatch: pytest.MonkeyPatch, nanoseconds: list[int]) -> None:
    """Make the id factory read its time from ``nanoseconds[0]``."""
    fake_time = types.SimpleNamespace(time_ns=lambda: nanoseconds[0])
    monkeypatch.setattr(ids_module, "time", fake_time)


def test_ten_thousand_ids_are_unique_url_safe_and_in_creation_order() -> None:
    factory = UlidIdFactory()
    made = [factory.new_id() for _ in range(10_000)]
    assert len(set(made)) == len(made)
    assert all(ID_FORMAT.fullmatch(i) for i in made)
    assert made == sorted(made)


def test_ids_made_in_one_millisecond_stay_ordered(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze_time(monkeypatch, [FROZEN_NS])
    factory = UlidIdFactory()
    made = [factory.new_id() for _ in range(1000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert len({i[:10] for i in made}) == 1  # the first 10 characters are the time


def test_ids_stay_ordered_when_the_clock_steps_back(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [FROZEN_NS]
    freeze_time(monkeypatch, now)
    factory = UlidIdFactory()
    first = factory.new_id()
    now[0] -= 5_000_000_000  # NTP moved the clock 5 s back
    assert factory.new_id() > first


def test_later_milliseconds_sort_later(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [FROZEN_NS]
    freeze_time(monkeypatch, now)
    factory = UlidIdFactory()
    earlier = [factory.new_id() for _ in range(50)]
    now[0] += 1_000_000
    later = UlidIdFactory().new_id()  # a fresh factory: nothing carried over
    assert all(i < later for i in earlier)


_CHILD = """
from audit_trail.adapters.ids import UlidIdFactory
f = UlidIdFactory()
print("\\n".join(f.new_id() for _ in range(20000)))
"""


def test_ids_from_two_processes_do_not_collide() -> None:
    children = [
        subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [child.communicate(timeout=60)[0].split() for child in children]
    assert [child.returncode for child in children] == [0, 0]
    assert [len(o) for o in outputs] == [20000, 20000]
    assert not set(outputs[0]) & set(outputs[1])


def _make_ids(factory: UlidIdFactory, out: Queue[list[str]]) -> None:
    out.put([factory.new_id() for _ in range(100)])


def test_forked_copies_of_one_factory_do_not_repeat_each_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the worst case: parent and children all in the same millisecond
    freeze_time(monkeypatch, [FROZEN_NS])
    factory = UlidIdFactory()
    parent_id = factory.new_id()
    context = multiprocessing.get_context("fork")
    out: Queue[list[str]] = context.Queue()
    children = [context.Process(target=_make_ids, args=(factory, out)) for _ in range(2)]
    for child in children:
        child.start()
    made = [out.get(timeout=30), out.get(timeout=30), [parent_id, factory.new_id()]]
    for child in children:
        child.join(timeout=30)
    assert [child.exitcode for child in children] == [0, 0]
    every = [i for batch in made for i in batch]
    assert len(set(every)) == len(every) == 202


def test_system_clock_is_utc_to_the_millisecond() -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    now = SystemClock().now()
    after = datetime.now(UTC)
    assert now.tzinfo is UTC
    assert now.microsecond % 1000 == 0
    assert before <= now <= after


def test_fixed_clock_stands_still_until_advanced() -> None:
    start = datetime(2026, 11, 28, 10, 30, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    clock = FixedClock(start)
    assert clock.now() == clock.now() == datetime(2026, 11, 28, 9, 30, 0, 123000, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    clock.advance(timedelta(seconds=1, microseconds=999))
    assert clock.now() == datetime(2026, 11, 28, 9, 30, 1, 123000, tzinfo=UTC)
