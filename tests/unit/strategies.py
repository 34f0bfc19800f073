"""Hypothesis strategies shared by the unit tests: entries as sent, entries as stored,
query parameters, and the times and texts they are made of."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from audit_trail.core import Actor, Entry, Outcome, Source, Target
from audit_trail.core.validation import (
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    SAFE_INTEGER_MAX,
    SAFE_INTEGER_MIN,
)

# Text a client may send: anything but NUL and lone surrogates (which JSON can carry).
_CHARS = st.characters(codec="utf-8", exclude_characters="\x00")

identifiers = st.text(_CHARS, min_size=1, max_size=20)
"""Ids, types, names and tags: non-empty, no NUL."""

actions = st.from_regex(r"[A-Za-z0-9_.:/-]{1,40}", fullmatch=True)
outcomes = st.sampled_from([o.value for o in Outcome])

metadata_keys = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00."),
    min_size=1,
    max_size=10,
).filter(lambda key: not key.startswith("$"))

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(SAFE_INTEGER_MIN, SAFE_INTEGER_MAX)
    # a float with no fraction is an integer to JSON Schema: within the same range
    | st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda f: not f.is_integer() or SAFE_INTEGER_MIN <= f <= SAFE_INTEGER_MAX
    )
    | st.text(_CHARS, max_size=20)
)


def json_values(depth: int) -> st.SearchStrategy[Any]:
    """JSON values whose containers nest at most ``depth`` levels."""
    if depth <= 0:
        return json_scalars
    inner = json_values(depth - 1)
    return (
        json_scalars
        | st.lists(inner, max_size=3)
        | st.dictionaries(metadata_keys, inner, max_size=3)
    )


def _metadata_size(metadata: dict[str, Any]) -> int:
    return len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode())


metadata = st.dictionaries(metadata_keys, json_values(MAX_METADATA_DEPTH - 1), max_size=4).filter(
    lambda m: _metadata_size(m) <= MAX_METADATA_BYTES
)
"""Valid metadata: the object itself is level 1, so values nest 7 more levels at most."""

offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))

utc_millis = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999000)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=UTC))
"""Instants as the service keeps them: UTC, whole milliseconds, years 1 to 9999."""

# Local times a day away from the ends of the calendar, so any offset stays in range.
aware_datetimes = st.builds(
    lambda local, tz: local.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    offsets,
)


def iso_text(moment: datetime) -> str:
    """``moment`` as a client may write it: ``Z`` for UTC, ``+hh:mm`` otherwise."""
    text = moment.isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


timestamps = aware_datetimes.map(iso_text)

actor_payloads = st.fixed_dictionaries(
    {"id": identifiers},
    optional={"type": st.none() | identifiers, "name": st.none() | identifiers},
)
target_payloads = st.fixed_dictionaries(
    {"type": identifiers, "id": identifiers}, optional={"name": st.none() | identifiers}
)

valid_payloads = st.fixed_dictionaries(
    {"action": actions},
    optional={
        "outcome": outcomes,
        "actor": st.none() | actor_payloads,
        "target": st.none() | target_payloads,
        "occurred_at": st.none() | timestamps,
        "tags": st.none() | st.lists(identifiers, max_size=5),
        "metadata": st.none() | metadata,
    },
)
"""Entries as a client may send them (POST or PUT bodies) that the rules accept."""

entries = st.builds(
    Entry,
    id=identifiers,
    tenant=identifiers,
    action=actions,
    outcome=st.sampled_from(Outcome),
    actor=st.builds(
        Actor, id=identifiers, type=st.none() | identifiers, name=st.none() | identifiers
    ),
    occurred_at=utc_millis,
    recorded_at=utc_millis,
    revision=st.integers(1, 10**6),
    target=st.none()
    | st.builds(Target, type=identifiers, id=identifiers, name=st.none() | identifiers),
    tags=st.lists(identifiers, max_size=5).map(tuple),
    metadata=metadata,
    source=st.builds(Source, ip=st.none() | identifiers, user_agent=st.none() | identifiers),
    deleted=st.booleans(),
)
"""Entries as the service stores them."""

query_params = st.fixed_dictionaries(
    {},
    optional={
        "actor_id": identifiers,
        "actor_type": identifiers,
        "action": actions | actions.map(lambda a: a + "*"),
        "target_type": identifiers,
        "target_id": identifiers,
        "outcome": outcomes,
        "tag": identifiers,
        "since": timestamps,
        "until": timestamps,
        "sort": st.sampled_from(["-occurred_at", "occurred_at"]),
        "limit": st.integers(1, 1000).map(str),
        "cursor": st.text(_CHARS, min_size=1, max_size=40),
    },
).filter(
    lambda p: (
        "since" not in p
        or "until" not in p
        or datetime.fromisoformat(p["since"]) <= datetime.fromisoformat(p["until"])
    )
)
"""Valid GET /entries parameters, one value each (as ``name -> value``)."""


def as_multi(params: dict[str, str]) -> dict[str, list[str]]:
    """``name -> value`` as the query string parser gives it: ``name -> [values]``."""
    return {name: [value] for name, value in params.items()}
