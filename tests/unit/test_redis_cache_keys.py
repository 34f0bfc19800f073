"""The Redis key layout: distinct (tenant, query, counters) never share a page key."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from audit_trail.adapters.cache import redis_keys as rk

layout = rk.KeyLayout("audit-trail")
counters = st.integers(min_value=1, max_value=2**63 - 1).map(str)
texts = st.text(alphabet=st.sampled_from(":|/{}\x00 aé"), max_size=6)


inputs = st.tuples(texts, texts, counters, counters)  # tenant, query, epoch, generation


@given(inputs, inputs)
def test_page_keys_are_distinct_for_distinct_inputs(
    first: tuple[str, str, str, str], second: tuple[str, str, str, str]
) -> None:
    pages = [
        layout.page(tenant, epoch, generation, rk.digest(query))
        for tenant, query, epoch, generation in (first, second)
    ]
    assert (pages[0] == pages[1]) is (first == second)
    assert pages[0].lock != pages[1].page
    assert pages[0].page.startswith(layout.page_stem(first[0]))


@given(texts, texts)
def test_counter_keys_never_collide_with_each_other_or_pages(tenant1: str, tenant2: str) -> None:
    assert (layout.generation(tenant1) == layout.generation(tenant2)) is (tenant1 == tenant2)
    assert layout.generation(tenant1) != layout.epoch
    assert not layout.page(tenant2, "1", "2", rk.digest("q")).page.startswith(
        layout.generation(tenant1) + ":"
    )


def test_fresh_counters_leave_room_to_grow_and_do_not_repeat() -> None:
    values = {rk.fresh_counter() for _ in range(1000)}
    assert len(values) == 1000
    assert all(0 < v <= 2**62 for v in values)
