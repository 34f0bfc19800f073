"""The built-in pii plugin: what it masks, how, and what it leaves alone."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from audit_trail.adapters.cache import NoQueryCache
from audit_trail.adapters.clock import FixedClock
from audit_trail.adapters.storage import InMemoryEntryRepository
from audit_trail.core import Actor, EntryDraft, PluginFailed, Source, Target, validate_entry
from audit_trail.core.ledger.committer import GroupCommitter
from audit_trail.core.ports import RequestContext
from audit_trail.core.usecases import GetEntry, GetEntryQuery, RecordEntry, RecordEntryCommand
from audit_trail.core.usecases.record import EntryFactory
from audit_trail.plugins import PluginSetupError, hookimpl
from audit_trail.plugins.builtin.detectors import TextRedactor
from audit_trail.plugins.builtin.pii import PiiRedactor
from audit_trail.plugins.processor import PluggyEntryProcessor
from tests.unit.fakes import FixedIdFactory
from tests.unit.test_plugin_support import ADMIN, READER, builtin_manager, make_entry

CARD = "4242 4242 4242 4242"
IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("mail ada@example.com now", "mail a***@example.com now"),
        ("ADA.L+audit@mail.example.co.uk", "A***@mail.example.co.uk"),
        (f"card {CARD}, thanks", "card **** **** **** 4242, thanks"),
        ("4111-1111-1111-1111", "**** **** **** 1111"),
        ("amex 378282246310005", "amex **** **** **** 0005"),
        (f"{CARD} 7 apples", "**** **** **** 4242 7 apples"),
        (f"iban {IBAN} please", "iban DE** **** 3000 please"),
        ("GB82WEST12345698765432", "GB** **** 5432"),
        ("Authorization: Bearer abc.def-ghi_jkl", "Authorization: Bearer ***"),
        ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "key sk_live_***"),
        ("AKIAIOSFODNN7EXAMPLE", "AKIA***"),
        ("ghp_" + "a" * 36, "ghp_***"),
        ("xoxb-1234567890-abcdefghij", "xoxb-***"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "eyJ***"),
        ("GET /x?api_key=hunter2&page=2", "GET /x?api_key=***&page=2"),
        ('password: "hunter2"', 'password: "***"'),
        ("x@a.bc@d.ef", "x***@a***@d.ef"),
    ],
)
def test_masks_keep_a_short_hint(text: str, redacted: str) -> None:
    assert TextRedactor().redact(text) == redacted


@pytest.mark.parametrize(
    "text",
    [
        "4242 4242 4242 4241",  # fails the Luhn check
        "order 1234567890123",
        "2026-11-28 09:30:00.123",
        "550e8400-e29b-41d4-a716-446655440000",
        "DE88 3704 0044 0532 0130 00",  # fails mod-97
        "GB82 WEST 1234 5698 7654 31",
        "the bearer of good news",
        "token_count: 5",
        "user@localhost",
        "a***@example.com",
        "**** **** **** 4242",
    ],
)
def test_leaves_what_is_not_personal_data(text: str) -> None:
    assert TextRedactor().redact(text) == text


def test_extra_patterns_are_masked_whole() -> None:
    redactor = TextRedactor([re.compile(r"EMP-\d{6}")])
    assert redactor.redact("badge EMP-123456 used") == "badge *** used"


def test_an_entry_is_masked_everywhere_but_in_its_ids() -> None:
    entry = make_entry(
        actor=Actor(id="ada@example.com", type="user", name="Ada <ada@example.com>"),
        target=Target(type="card", id=CARD, name=f"card {CARD}"),
        tags=("ui", "ada@example.com", "a***@example.com"),
        metadata={
            "note": "mail ada@example.com",
            "nested": [{"deeper": {"iban": IBAN}}, 42, None, True],
            CARD: "a key that is a card number",
            "password": {"old": "a", "new": "b"},
            "API-Key": 12345,
            "customer": {"phone": "+44 20 7946 0000", "city": "London"},
        },
        source=Source(ip="203.0.113.5", user_agent="curl Bearer abcdefghijkl"),
    )
    redacted = PiiRedactor(fields=("customer.phone",)).redact(entry)
    assert redacted.actor == Actor(id="ada@example.com", type="user", name="Ada <a***@example.com>")
    assert redacted.target == Target(type="card", id=CARD, name="card **** **** **** 4242")
    assert redacted.tags == ("ui", "a***@example.com")
    assert redacted.metadata == {
        "note": "mail a***@example.com",
        "nested": [{"deeper": {"iban": "DE** **** 3000"}}, 42, None, True],
        "**** **** **** 4242": "a key that is a card number",
        "password": "***",
        "API-Key": "***",
        "customer": {"phone": "***", "city": "London"},
    }
    assert redacted.source == Source(ip="203.0.113.5", user_agent="curl Bearer ***")
    # what the core sets stays
    assert (redacted.id, redacted.tenant, redacted.revision) == (entry.id, entry.tenant, 1)


@pytest.mark.parametrize(
    ("paths", "metadata", "expected"),
    [
        (("metadata.a.b",), {"a": {"b": 1, "c": 2}}, {"a": {"b": "***", "c": 2}}),
        (
            ("*.phone",),
            {"x": {"phone": "1"}, "y": {"phone": "2"}},
            {"x": {"phone": "***"}, "y": {"phone": "***"}},
        ),
        (
            ("contacts.phone",),
            {"contacts": [{"phone": "1"}, {"phone": "2"}]},
            {"contacts": [{"phone": "***"}, {"phone": "***"}]},
        ),
        (("a",), {"a": {"deep": [1, 2]}}, {"a": "***"}),
        (("a.b",), {"a": "b"}, {"a": "b"}),
    ],
)
def test_configured_fields_are_masked_whole(
    paths: tuple[str, ...], metadata: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert PiiRedactor(fields=paths).redact(make_entry(metadata=metadata)).metadata == expected


def test_without_triggers_keys_and_tags_are_still_masked_and_deduplicated() -> None:
    # nothing in these strings can hold personal data: only the key and the tags change
    entry = make_entry(tags=("ui", "ui"), metadata={"Pass_word": "hunter2", "n": [{"k": 1}]})
    redacted = PiiRedactor().redact(entry)
    assert redacted.metadata == {"Pass_word": "***", "n": [{"k": 1}]}
    assert redacted.tags == ("ui",)


def test_an_entry_with_nothing_to_mask_is_kept_as_it_is() -> None:
    entry = make_entry(tags=("ui",), metadata={"field": "title", "n": [1, {"k": None}]})
    assert PiiRedactor().redact(entry) is entry


def test_keys_masked_alike_are_both_kept() -> None:
    metadata = {"4242 4242 4242 4242": 1, "4242-4242-4242-4242": 2}
    redacted = PiiRedactor().redact(make_entry(metadata=metadata)).metadata
    assert redacted == {"**** **** **** 4242": 1, "**** **** **** 4242 #2": 2}
    validate_entry({"action": "a", "metadata": redacted})  # still valid metadata


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"pii_patterns": ("([a-z",)}, "AUDIT_PII_PATTERNS: '([a-z' is not a regular expression"),
        ({"pii_patterns": ("x*",)}, "matches empty text or the mask"),
        ({"pii_patterns": (r"\*+",)}, "matches empty text or the mask"),
        ({"pii_fields": ("customer..phone",)}, "AUDIT_PII_FIELDS: 'customer..phone'"),
    ],
)
def test_bad_settings_stop_start_up(config: dict[str, Any], message: str) -> None:
    with pytest.raises(PluginSetupError, match=re.escape(message)):
        builtin_manager(config=config)


# --- through the core: what is stored, what readers see -------------------------------


def service(
    *extra_plugins: object,
) -> tuple[RecordEntry, GetEntry, InMemoryEntryRepository]:
    manager = builtin_manager(config={"pii_fields": ("customer.phone",)})
    for plugin in extra_plugins:
        manager.register(plugin)
    processor = PluggyEntryProcessor(manager)
    repository = InMemoryEntryRepository()
    clock = FixedClock(datetime(2026, 11, 28, tzinfo=UTC))
    factory = EntryFactory(processor, clock, FixedIdFactory("01JD0000000000000000000000"))
    record = RecordEntry(GroupCommitter(repository, NoQueryCache()), processor, factory)
    return record, GetEntry(repository, processor), repository


async def test_what_is_stored_is_redacted_and_the_ip_is_for_admins_only() -> None:
    record, get, repository = service()
    draft = EntryDraft(
        action="user.login",
        actor=Actor(id="u-1", name="ada@example.com"),
        metadata={"customer": {"phone": "+44 20 7946 0000"}},
    )
    context = RequestContext(client_ip="203.0.113.5", headers={"user-agent": "curl/8"})
    shown = await record.execute(RecordEntryCommand(READER, draft, context))
    stored = await repository.get("acme", shown.id)
    assert stored is not None
    assert stored.actor.name == "a***@example.com"
    assert stored.metadata == {"customer": {"phone": "***"}}
    assert stored.source == Source(ip="203.0.113.5", user_agent="curl/8")
    assert shown.source == Source(ip=None, user_agent="curl/8")
    as_reader = await get.execute(GetEntryQuery(READER, shown.id))
    as_admin = await get.execute(GetEntryQuery(ADMIN, shown.id))
    assert as_reader.source.ip is None
    assert as_admin.source.ip == "203.0.113.5"


async def test_an_entry_whose_redaction_fails_is_not_stored() -> None:
    class Broken:
        @hookimpl
        def audit_redact_entry(self) -> None:
            raise RuntimeError("redactor down")

    record, _, repository = service(Broken())
    with pytest.raises(PluginFailed):
        await record.execute(RecordEntryCommand(READER, EntryDraft(action="user.login")))
    assert await repository.get("acme", "01JD0000000000000000000000") is None
