"""RFC 5424 messages of the built-in syslog sink, read back by the test collector's own
parser: any SD-PARAM value survives escaping; header fields stay printable ASCII; the
frame's count is the message's length in octets; a bad URL or facility stops start-up."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_trail.core.usecases.change_reader import Change
from audit_trail.plugins.builtin.syslog import audit_configure
from audit_trail.plugins.builtin.syslog_format import Header, escape_param, frame, message
from audit_trail.plugins.errors import PluginSetupError
from tests.syslog_listener import parse

REVISION = {
    "id": "e-1",
    "revision": 3,
    "action": "document.update",
    "actor": {"id": "u-1", "type": "user"},
    "recorded_at": "2026-12-01T10:00:00.000Z",
    "metadata": {"note": "café ☕"},
}


@given(st.text())
def test_every_parameter_value_survives_escaping(value: str) -> None:
    change = Change(7, "amend", {**REVISION, "action": value})
    parsed = parse(message("t1", change, Header()))
    assert parsed.params["action"] == value


def test_the_header_and_structured_data_of_an_erasure() -> None:
    leaf = {"kind": "erase", "id": "e-1", "recorded_at": "2026-12-01T10:00:00.000Z",
            "recorded_by": "dpo", "fields": ["metadata.note"]}  # fmt: skip
    header = Header(facility=4, hostname="host with spaces\n", app_name="a" * 60, procid="12")
    parsed = parse(message("t1", Change(9, "erase", leaf), header))
    assert parsed.pri == 4 * 8 + 5  # auth.notice
    assert (parsed.hostname, parsed.app_name, parsed.procid) == ("hostwithspaces", "a" * 48, "12")
    assert parsed.msgid == "erase"
    assert parsed.params == {"id": "e-1", "tenant": "t1", "actor_id": "dpo", "kind": "erase",
                             "log_index": "9"}  # fmt: skip
    assert json.loads(parsed.msg) == leaf


def test_the_frame_counts_octets_not_characters() -> None:
    raw = message("t1", Change(1, "record", REVISION), Header())
    assert frame(raw) == str(len(raw)).encode() + b" " + raw
    assert len(raw) > len(raw.decode("utf-8"))  # the BOM and "é ☕" are several octets


def test_escaping_is_what_rfc_5424_says() -> None:
    assert escape_param('a"b]c\\d') == 'a\\"b\\]c\\\\d'


@pytest.mark.parametrize(
    ("config", "setting"),
    [
        ({"syslog_url": "udp://127.0.0.1:514"}, "AUDIT_SYSLOG_URL"),
        ({"syslog_url": "tcp://127.0.0.1"}, "AUDIT_SYSLOG_URL"),
        ({"syslog_url": "tcp://127.0.0.1:99999"}, "AUDIT_SYSLOG_URL"),
        (
            {"syslog_url": "tcp://127.0.0.1:514", "syslog_facility": "local9"},
            "AUDIT_SYSLOG_FACILITY",
        ),
    ],
)
def test_a_bad_setting_stops_start_up_naming_it(config: dict[str, str], setting: str) -> None:
    with pytest.raises(PluginSetupError, match=setting):
        audit_configure(config)


def test_without_a_url_there_is_no_sink() -> None:
    assert audit_configure({"syslog_url": None}) is None
