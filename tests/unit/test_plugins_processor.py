"""PluggyEntryProcessor: how hook results combine, in which order, and who is blamed."""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import replace
from typing import Any

import pluggy
import pytest

from audit_trail.core import Entry, PluginFailed, Principal, Source, ValidationFailed
from audit_trail.core.ports import RequestContext
from audit_trail.plugins import hookimpl
from audit_trail.plugins.processor import PluggyEntryProcessor
from tests.unit.test_plugin_support import (
    ADMIN,
    READER,
    builtin_manager,
    make_entry,
    make_manager,
)

CONTEXT = RequestContext(client_ip="10.0.0.1", headers={"user-agent": "tests"})


def processor(*plugins: object, **named: object) -> PluggyEntryProcessor:
    return PluggyEntryProcessor(make_manager(*plugins, **named))


# --- audit_enrich_entry ---------------------------------------------------------------


class EarlyEnricher:
    @hookimpl(tryfirst=True)
    def audit_enrich_entry(self) -> dict[str, Any]:
        return {
            "tags": ["early", "shared"],
            "metadata": {"deep": {"a": 1, "keep": "early"}, "list": [1]},
            "source": {"ip": "192.0.2.1", "user_agent": "early-agent"},
        }


class PlainEnricher:
    @hookimpl
    def audit_enrich_entry(self, entry: Entry, request: RequestContext) -> dict[str, Any]:
        return {
            "tags": ["shared", "plain", entry.action],
            "metadata": {"deep": {"b": 2, "keep": "plain"}, "list": [2]},
            "source": {"ip": request.client_ip, "user_agent": None},
        }


class LateEnricher:
    @hookimpl(trylast=True)
    async def audit_enrich_entry(self) -> dict[str, Any]:
        return {"actor": {"name": "Ada Lovelace", "type": None}}


async def test_enrichments_merge_in_call_order() -> None:
    prepared = await processor(LateEnricher(), PlainEnricher(), EarlyEnricher()).prepare(
        make_entry(), CONTEXT
    )
    assert prepared.tags == ("ui", "early", "shared", "plain", "document.update")
    assert prepared.metadata == {
        "field": "title",
        "deep": {"a": 1, "b": 2, "keep": "plain"},
        "list": [2],
    }
    # a later result wins for one value; None leaves the earlier value
    assert prepared.source == Source(ip="10.0.0.1", user_agent="early-agent")
    assert prepared.actor.name == "Ada Lovelace"
    assert prepared.actor.type == "user"


class Enricher:
    def __init__(self, result: Any) -> None:
        self.result = result

    @hookimpl
    def audit_enrich_entry(self) -> Any:
        return self.result


@pytest.mark.parametrize(
    "result",
    [
        {"id": "01OTHER"},
        {"tenant": "evil"},
        {"revision": 7},
        {"recorded_at": "2000-01-01T00:00:00Z"},
        {"actor": {"id": "someone-else"}},
        {"action": "other.action"},
        {"tags": "ui"},
        {"tags": ["ok", 7]},
        {"metadata": {"$where": "1"}},
        {"metadata": ["not", "a", "mapping"]},
        {"source": {"ip": 10}},
        ["tags"],
    ],
    ids=repr,
)
async def test_an_enrichment_outside_the_rules_refuses_the_entry(
    result: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(PluginFailed) as failed:
        await processor(meddler=Enricher(result)).prepare(make_entry(), CONTEXT)
    assert (failed.value.plugin, failed.value.hook) == ("meddler", "audit_enrich_entry")
    assert "'meddler'" in caplog.text


async def test_an_enrichment_that_raises_refuses_the_entry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        @hookimpl
        def audit_enrich_entry(self) -> None:
            raise KeyError("lookup table")

    with pytest.raises(PluginFailed) as failed:
        await processor(PlainEnricher(), broken=Broken()).prepare(make_entry(), CONTEXT)
    assert failed.value.plugin == "broken"
    assert "plugin 'broken' failed in audit_enrich_entry" in caplog.text
    assert "lookup table" in caplog.text


# --- audit_validate_entry -------------------------------------------------------------


class TicketRequired:
    @hookimpl
    def audit_validate_entry(self, entry: Entry) -> None:
        if "ticket" not in entry.metadata:
            raise ValidationFailed.single("metadata.ticket", "is required")


class NoWeekendTag:
    @hookimpl
    async def audit_validate_entry(self, entry: Entry) -> None:
        if "weekend" in entry.tags:
            raise ValidationFailed.single("tags", "no changes at the weekend")


async def test_every_validator_runs_and_the_refusal_lists_each_error() -> None:
    class TagsWeekend:
        @hookimpl
        def audit_enrich_entry(self) -> dict[str, Any]:
            return {"tags": ["weekend"]}

    with pytest.raises(ValidationFailed) as refused:
        await processor(TicketRequired(), NoWeekendTag(), TagsWeekend()).prepare(
            make_entry(), CONTEXT
        )
    fields = sorted(error.field for error in refused.value.errors)
    assert fields == ["metadata.ticket", "tags"]  # and the validator saw the enriched tags


async def test_an_entry_every_validator_accepts_is_prepared() -> None:
    entry = make_entry(metadata={"ticket": "OPS-1"})
    assert await processor(TicketRequired(), NoWeekendTag()).prepare(entry, CONTEXT) == entry


async def test_a_validator_that_breaks_refuses_the_entry_as_a_plugin_failure() -> None:
    class Broken:
        @hookimpl
        def audit_validate_entry(self) -> None:
            raise ZeroDivisionError

    with pytest.raises(PluginFailed) as failed:
        await processor(broken=Broken()).prepare(make_entry(), CONTEXT)
    assert (failed.value.plugin, failed.value.hook) == ("broken", "audit_validate_entry")


# --- audit_redact_entry ---------------------------------------------------------------


class DropsSecret:
    @hookimpl(tryfirst=True)
    def audit_redact_entry(self, entry: Entry) -> Entry:
        metadata = {k: v for k, v in entry.metadata.items() if k != "secret"}
        return replace(entry, metadata=metadata)


class SeesChain:
    def __init__(self) -> None:
        self.seen: list[Entry] = []

    @hookimpl
    async def audit_redact_entry(self, entry: Entry) -> None:
        self.seen.append(entry)  # None: unchanged


class HidesNames:
    @hookimpl(trylast=True)
    def audit_redact_entry(self, entry: Entry) -> Entry:
        return replace(entry, actor=replace(entry.actor, name=None))


async def test_redactions_are_chained_in_call_order() -> None:
    watcher = SeesChain()
    entry = make_entry(metadata={"secret": "s3", "field": "title"})
    prepared = await processor(HidesNames(), watcher, DropsSecret()).prepare(entry, CONTEXT)
    assert watcher.seen[0].metadata == {"field": "title"}  # DropsSecret ran first
    assert prepared.metadata == {"field": "title"}
    assert prepared.actor.name is None


@pytest.mark.parametrize("outcome", ["raises", "returns a dict"])
async def test_a_failed_redaction_never_lets_the_entry_through(outcome: str) -> None:
    class Broken:
        @hookimpl
        def audit_redact_entry(self, entry: Entry) -> Any:
            if outcome == "raises":
                raise RuntimeError("redactor down")
            return {"metadata": {}}

    with pytest.raises(PluginFailed) as failed:
        await processor(DropsSecret(), broken=Broken()).prepare(make_entry(), CONTEXT)
    assert (failed.value.plugin, failed.value.hook) == ("broken", "audit_redact_entry")


# --- wrappers ---------------------------------------------------------------------------


class StampsAfterRedaction:
    """A new-style wrapper: sees the chain's final entry and may replace it."""

    def __init__(self) -> None:
        self.saw_secret: bool | None = None

    @hookimpl(wrapper=True)
    def audit_redact_entry(self, entry: Entry) -> Generator[None, Entry, Entry]:
        final = yield
        self.saw_secret = "secret" in final.metadata
        return replace(final, tags=(*final.tags, "redacted"))


async def test_a_wrapper_gets_the_chains_result_and_may_replace_it() -> None:
    wrapper = StampsAfterRedaction()
    entry = make_entry(metadata={"secret": "s3"})
    prepared = await processor(wrapper, DropsSecret()).prepare(entry, CONTEXT)
    assert wrapper.saw_secret is False
    assert prepared.tags == ("ui", "redacted")
    assert prepared.metadata == {}


class EnrichmentCounter:
    """A wrapper around an all-results hook gets the list of results."""

    @hookimpl(wrapper=True)
    def audit_enrich_entry(self) -> Generator[None, list[Any], list[Any]]:
        results = yield
        return [*results, {"metadata": {"enrichments": len(results)}}]


async def test_a_wrapper_of_an_all_results_hook_gets_the_list() -> None:
    prepared = await processor(EnrichmentCounter(), PlainEnricher(), EarlyEnricher()).prepare(
        make_entry(), CONTEXT
    )
    assert prepared.metadata["enrichments"] == 2


class Boom(Exception):
    pass


class Exploding:
    @hookimpl
    def audit_redact_entry(self) -> None:
        raise Boom


class Absorbing:
    """Turns a failure inside into an entry of its own making (as pluggy allows)."""

    @hookimpl(wrapper=True)
    def audit_redact_entry(self, entry: Entry) -> Generator[None, Entry, Entry]:
        try:
            return (yield)
        except Boom:
            return replace(entry, metadata={"redacted": "everything"})


class PassingThrough:
    @hookimpl(wrapper=True)
    def audit_redact_entry(self) -> Generator[None, Entry, Entry]:
        return (yield)


class FailingWrapper:
    @hookimpl(wrapper=True)
    def audit_redact_entry(self) -> Generator[None, Entry, Entry]:
        yield
        raise RuntimeError("wrapper bug")


async def test_a_wrapper_may_handle_the_exception_of_an_implementation() -> None:
    prepared = await processor(Absorbing(), Exploding()).prepare(make_entry(), CONTEXT)
    assert prepared.metadata == {"redacted": "everything"}


async def test_an_exception_through_a_wrapper_is_blamed_on_the_plugin_that_raised_it() -> None:
    with pytest.raises(PluginFailed) as failed:
        await processor(wrapper=PassingThrough(), exploding=Exploding()).prepare(
            make_entry(), CONTEXT
        )
    assert failed.value.plugin == "exploding"


async def test_an_exception_of_a_wrapper_is_blamed_on_the_wrapper() -> None:
    with pytest.raises(PluginFailed) as failed:
        await processor(wrapper=FailingWrapper(), fine=DropsSecret()).prepare(make_entry(), CONTEXT)
    assert failed.value.plugin == "wrapper"


class OldStyleWrapper:
    @hookimpl(hookwrapper=True)
    def audit_redact_for_reader(self) -> Generator[None, pluggy.Result[Entry], None]:
        outcome = yield
        entry = outcome.get_result()
        outcome.force_result(replace(entry, tags=(*entry.tags, "old-style")))


async def test_old_style_hookwrappers_work_as_pluggy_defines_them() -> None:
    shown = await processor(OldStyleWrapper()).redact_for_reader(make_entry(), READER)
    assert shown.tags == ("ui", "old-style")


# --- call order -------------------------------------------------------------------------


class Recorder:
    def __init__(self, calls: list[str], name: str) -> None:
        self.calls = calls
        self.name = name

    def note(self) -> None:
        self.calls.append(self.name)


def recorder(
    calls: list[str], name: str, *, tryfirst: bool = False, trylast: bool = False
) -> object:
    class Impl(Recorder):
        @hookimpl(tryfirst=tryfirst, trylast=trylast)
        def audit_entry_recorded(self) -> None:
            self.note()

    return Impl(calls, name)


async def test_call_order_is_tryfirst_then_latest_registered_then_trylast() -> None:
    calls: list[str] = []
    plugins = [
        recorder(calls, "last", trylast=True),
        recorder(calls, "first registered"),
        recorder(calls, "first", tryfirst=True),
        recorder(calls, "second registered"),
    ]
    pm = make_manager(*plugins)
    await PluggyEntryProcessor(pm).recorded(make_entry())
    assert calls == ["first", "second registered", "first registered", "last"]
    calls.clear()
    pm.hook.audit_entry_recorded(entry=make_entry())  # pluggy's own call: the same order
    assert calls == ["first", "second registered", "first registered", "last"]


# --- audit_entry_recorded ------------------------------------------------------------


async def test_a_failure_after_recording_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    class Broken:
        @hookimpl(tryfirst=True)
        def audit_entry_recorded(self) -> None:
            raise ConnectionError("webhook down")

    class Notifier:
        @hookimpl
        async def audit_entry_recorded(self, entry: Entry) -> None:
            seen.append(entry.id)

    with caplog.at_level(logging.ERROR):
        await processor(Notifier(), broken=Broken()).recorded(make_entry())
    assert seen == [make_entry().id]
    assert "plugin 'broken' failed in audit_entry_recorded" in caplog.text
    assert "webhook down" in caplog.text


# --- audit_redact_for_reader ---------------------------------------------------------------


class HidesMetadataFromNonAdmins:
    @hookimpl
    def audit_redact_for_reader(self, entry: Entry, principal: Principal) -> Entry | None:
        if "audit:admin" in principal.scopes:
            return None
        return replace(entry, metadata={})


async def test_reader_redaction_depends_on_the_principal() -> None:
    entry = make_entry(metadata={"salary": 1})
    shown = processor(HidesMetadataFromNonAdmins())
    assert (await shown.redact_for_reader(entry, READER)).metadata == {}
    assert (await shown.redact_for_reader(entry, ADMIN)).metadata == {"salary": 1}


async def test_a_failed_reader_redaction_fails_the_read() -> None:
    class Broken:
        @hookimpl
        def audit_redact_for_reader(self) -> None:
            raise RuntimeError

    with pytest.raises(PluginFailed) as failed:
        await processor(broken=Broken()).redact_for_reader(make_entry(), READER)
    assert (failed.value.plugin, failed.value.hook) == ("broken", "audit_redact_for_reader")


async def test_without_plugins_entries_pass_unchanged() -> None:
    entry = make_entry()
    plain = processor()
    assert await plain.prepare(entry, CONTEXT) == entry
    assert await plain.redact_for_reader(entry, READER) == entry
    await plain.recorded(entry)


# --- one implementation: pluggy's own hook call -------------------------------------------


def monitored(pm: pluggy.PluginManager) -> list[str]:
    """The hooks called through pluggy's own hook calling, as they are called."""
    called: list[str] = []
    pm.add_hookcall_monitoring(lambda name, impls, kwargs: called.append(name), lambda *_: None)
    return called


async def test_with_the_built_in_plugins_each_hook_is_one_pluggy_call() -> None:
    pm = builtin_manager()
    called = monitored(pm)
    shown = PluggyEntryProcessor(pm)
    prepared = await shown.prepare(make_entry(metadata={"note": "ada@example.com"}), CONTEXT)
    await shown.redact_for_reader(prepared, READER)
    await shown.recorded(prepared)
    assert prepared.metadata == {"note": "a***@example.com"}
    assert prepared.source.ip == "10.0.0.1"
    assert called == ["audit_enrich_entry", "audit_redact_entry", "audit_redact_for_reader"]


async def test_a_lone_async_implementation_is_awaited() -> None:
    prepared = await processor(LateEnricher()).prepare(make_entry(), CONTEXT)
    assert prepared.actor.name == "Ada Lovelace"
    watcher = SeesChain()
    assert await processor(watcher).prepare(make_entry(), CONTEXT) == make_entry()
    assert watcher.seen == [make_entry()]


async def test_a_lone_validator_refuses_with_its_errors() -> None:
    with pytest.raises(ValidationFailed) as refused:
        await processor(TicketRequired()).prepare(make_entry(), CONTEXT)
    assert [error.field for error in refused.value.errors] == ["metadata.ticket"]


async def test_a_lone_failure_after_recording_is_logged_with_the_plugins_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        @hookimpl
        async def audit_entry_recorded(self) -> None:
            raise ConnectionError("webhook down")

    with caplog.at_level(logging.ERROR):
        await processor(broken=Broken()).recorded(make_entry())
    assert "plugin 'broken' failed in audit_entry_recorded" in caplog.text


async def test_a_lone_reader_redaction_refusing_fails_the_read() -> None:
    class Refusing:
        @hookimpl
        def audit_redact_for_reader(self) -> None:
            raise ValidationFailed.single("entry", "not for you")

    with pytest.raises(PluginFailed) as failed:
        await processor(refusing=Refusing()).redact_for_reader(make_entry(), READER)
    assert failed.value.plugin == "refusing"
