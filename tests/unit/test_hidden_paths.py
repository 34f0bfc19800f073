"""``hidden_paths``: the committed paths a redacted copy of an entry does not show as
stored, compared part by part, against its definition over ``committed_fields``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from audit_trail.core.integrity.fields import committed_fields, hidden_paths
from audit_trail.core.model import Entry
from tests.unit.strategies import entries, identifiers


def _definition(stored: Entry, visible: Entry) -> set[str]:
    shown = committed_fields(visible)
    return {p for p, v in committed_fields(stored).items() if p not in shown or shown[p] != v}


@st.composite
def redactions(draw: st.DrawFn) -> tuple[Entry, Entry]:
    stored = draw(entries)
    changes: dict[str, Any] = {}
    if draw(st.booleans()):
        changes["action"] = draw(st.sampled_from([stored.action, "redacted"]))
    if draw(st.booleans()):
        changes["actor"] = replace(stored.actor, name=draw(st.none() | identifiers))
    if draw(st.booleans()):
        changes["source"] = replace(stored.source, ip=None)
    if draw(st.booleans()) and stored.target is not None:
        changes["target"] = draw(st.none() | st.just(replace(stored.target, name="***")))
    if draw(st.booleans()):
        changes["tags"] = tuple(t for t in stored.tags if draw(st.booleans()))
    if draw(st.booleans()) and stored.metadata:
        keys = list(stored.metadata)
        dropped = draw(st.sets(st.sampled_from(keys)))
        masked = draw(st.sets(st.sampled_from(keys)))
        changes["metadata"] = {
            k: ("***" if k in masked else v) for k, v in stored.metadata.items() if k not in dropped
        }
    return stored, replace(stored, **changes) if changes else stored


@settings(max_examples=300)
@given(redactions())
def test_hidden_paths_are_those_not_shown_as_committed(pair: tuple[Entry, Entry]) -> None:
    stored, visible = pair
    assert hidden_paths(stored, visible) == _definition(stored, visible)


@given(entries)
def test_an_unredacted_entry_hides_nothing_and_a_dropped_ip_hides_it(stored: Entry) -> None:
    assert hidden_paths(stored, stored) == set()
    with_ip = replace(stored, source=replace(stored.source, ip="10.0.0.1"))
    assert hidden_paths(with_ip, replace(with_ip, source=replace(with_ip.source, ip=None))) == {
        "source.ip"
    }
