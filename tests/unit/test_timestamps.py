"""Times: UTC, to the millisecond, one fixed-width text form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_trail.core.timestamps import (
    format_timestamp,
    from_epoch_millis,
    parse_timestamp,
    to_epoch_millis,
    to_utc_millis,
)
from tests.unit.strategies import aware_datetimes, iso_text, utc_millis


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28T09:30:00.123Z",
        "2026-11-28T09:30:00.123+00:00",
        "2026-11-28T09:30:00.123999Z",
        "2026-11-28T09:30:00.123-00:00",
        "2026-11-28T11:30:00.123+02:00",
        "2026-11-27T23:00:00.123-10:30",
        "2026-11-28T09:30:00.1234+00:00",
    ],
)
def test_parse_gives_utc_truncated_to_the_millisecond(text: str) -> None:
    moment = parse_timestamp(text)
    assert moment == datetime(2026, 11, 28, 9, 30, 0, 123000, tzinfo=UTC)
    assert moment.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28T09:30:00",
        "2026-11-28",
        "09:30:00Z",
        "not a time",
        "",
        "2026-11-28T09:30:00Z" + " " * 60,
        "0001-01-01T00:00:00+00:01",
        "9999-12-31T23:59:59-00:01",
    ],
)
def test_parse_refuses_naive_unreadable_and_out_of_range_times(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is for the client
        parse_timestamp(text)


@pytest.mark.parametrize("value", [None, 1764322200, b"2026-11-28T09:30:00Z"])
def test_parse_refuses_non_text(value: object) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_timestamp(value)  # type: ignore[arg-type]


def test_to_utc_millis_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone"):
        to_utc_millis(datetime(2026, 1, 1))


def test_format_is_fixed_width_with_a_z() -> None:
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000Z"
    assert format_timestamp(datetime(5, 1, 1, tzinfo=UTC)) == "0005-01-01T00:00:00.000Z"
    cet = timezone(timedelta(hours=1))
    assert format_timestamp(datetime(2026, 1, 1, 0, 30, 0, 999999, cet)) == (
        "2025-12-31T23:30:00.999Z"
    )


@given(utc_millis)
def test_format_then_parse_is_the_same_instant(moment: datetime) -> None:
    text = format_timestamp(moment)
    assert len(text) == 24
    assert parse_timestamp(text) == moment


@given(aware_datetimes)
def test_parse_keeps_the_instant_to_the_millisecond(moment: datetime) -> None:
    parsed = parse_timestamp(iso_text(moment))
    assert timedelta(0) <= moment - parsed < timedelta(milliseconds=1)
    assert parsed.microsecond % 1000 == 0


@given(utc_millis, utc_millis)
def test_text_sorts_like_the_instant(a: datetime, b: datetime) -> None:
    assert (format_timestamp(a) < format_timestamp(b)) == (a < b)


@given(utc_millis)
def test_epoch_millis_round_trip(moment: datetime) -> None:
    assert from_epoch_millis(to_epoch_millis(moment)) == moment


def test_epoch_millis() -> None:
    assert to_epoch_millis(datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC)) == 1500
    assert to_epoch_millis(datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)) == -1
    assert from_epoch_millis(-1) == datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)


@given(st.integers(0, 10**6))
def test_truncation_never_rounds_up(micros: int) -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    assert to_utc_millis(moment) == datetime(2026, 1, 1, tzinfo=UTC) + timedelta(
        milliseconds=micros // 1000
    )
