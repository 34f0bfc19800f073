"""The JSON log formatter, the choice of log format and the request id rule."""

from __future__ import annotations

import io
import json
import logging
import re
import string
import sys
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_trail.entrypoints.http.request_log import (
    new_request_id,
    request_id_of,
    valid_request_id,
)
from audit_trail.entrypoints.logs import JsonFormatter, log_format, logging_config
from audit_trail.entrypoints.settings import Settings, SettingsError, load_settings

ALLOWED = string.ascii_letters + string.digits + "._:-"


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("audit_trail.x", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_a_record_is_one_json_object_on_one_line() -> None:
    line = JsonFormatter().format(_record("two\nlines: %s", "é\u2028"))
    assert "\n" not in line
    data = json.loads(line)
    assert data.keys() == {"time", "level", "logger", "message"}
    assert (data["level"], data["logger"]) == ("WARNING", "audit_trail.x")
    assert data["message"] == "two\nlines: é\u2028"


def test_the_time_is_rfc3339_utc() -> None:
    record = _record("m")
    record.created = 1_700_000_000.25
    time = json.loads(JsonFormatter().format(record))["time"]
    assert time == "2023-11-14T22:13:20.250Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", time)
    assert datetime.fromisoformat(time).timestamp() == 1_700_000_000.25


def test_extra_fields_are_kept_and_objects_become_text() -> None:
    record = _record("m", status=201, route=object(), color_message="\x1b[1mm")
    data = json.loads(JsonFormatter().format(record))
    assert data["status"] == 201
    assert "color_message" not in data  # uvicorn's, with terminal escapes
    assert data["route"].startswith("<object")


def test_a_traceback_is_one_field() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, "", 1, "failed", None, sys.exc_info())
    data = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in data["exception"]


@pytest.mark.parametrize(("tty", "chosen"), [(True, "text"), (False, "json")])
def test_the_default_format_is_text_on_a_terminal_only(tty: bool, chosen: str) -> None:
    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return tty

    assert log_format(Settings(), Stream()) == chosen
    assert log_format(Settings(log_format="json"), Stream()) == "json"
    assert log_format(Settings(log_format="text"), Stream()) == "text"


def test_the_json_config_formats_uvicorns_lines_too() -> None:
    config = logging_config(Settings(log_format="json", log_level="warning"))
    assert config["formatters"]["service"] == {"()": "audit_trail.entrypoints.logs.JsonFormatter"}
    assert config["root"] == {"level": "WARNING", "handlers": ["stderr"]}
    assert config["loggers"]["uvicorn"]["propagate"] is True
    assert config["loggers"]["uvicorn.access"] == {"handlers": [], "propagate": False}


def test_an_unknown_log_format_stops_start_up() -> None:
    with pytest.raises(SettingsError, match="AUDIT_LOG_FORMAT"):
        load_settings({"AUDIT_LOG_FORMAT": "xml"})
    assert load_settings({"AUDIT_LOG_FORMAT": "text"}).log_format == "text"


# --- request ids ---


@given(st.text(alphabet=ALLOWED, min_size=1, max_size=128))
def test_a_conservative_id_is_kept(value: str) -> None:
    assert valid_request_id(value)
    assert request_id_of([(b"x-request-id", value.encode())]) == value


@given(st.text(max_size=200))
def test_anything_else_is_replaced(value: str) -> None:
    kept = 1 <= len(value) <= 128 and all(c in ALLOWED for c in value)
    assert valid_request_id(value) is kept
    made = request_id_of([(b"x-request-id", value.encode())])
    assert (made == value) is kept


def test_a_missing_or_repeated_id_is_replaced() -> None:
    assert valid_request_id(None) is False
    assert len(request_id_of([])) == 32
    twice = [(b"x-request-id", b"a"), (b"x-request-id", b"b")]
    assert request_id_of(twice) not in {"a", "b"}


def test_made_ids_are_valid_and_distinct() -> None:
    made = {new_request_id() for _ in range(100)}
    assert len(made) == 100
    assert all(valid_request_id(i) for i in made)
