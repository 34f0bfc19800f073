"""How the service's processes log: ``AUDIT_LOG_FORMAT`` (json or text) and
``AUDIT_LOG_LEVEL``, for the service's loggers and uvicorn's alike.

``logging_config`` is a ``logging.config.dictConfig`` dictionary: ``audit-trail serve``
applies it and hands it to uvicorn, which applies it again in each worker process.
The JSON format is one object per line: ``time`` (RFC 3339, UTC), ``level``,
``logger``, ``message``, the ``request_id`` of the request being served when there is
one, ``exception`` when a traceback is logged, and the record's own fields (the
request log's method, route, status, duration_ms, tenant).
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from audit_trail.entrypoints.http.request_log import current_request
from audit_trail.entrypoints.settings import Settings

LogFormat = Literal["json", "text"]
TEXT_FORMAT = "%(levelname)s:     %(name)s: %(message)s"
ACCESS_LOGGER = "audit_trail.access"

# what every LogRecord has: the rest of its __dict__ came from ``extra=``
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's message again, with terminal colours
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = current_request()
        if context is not None:
            line["request_id"] = context.request_id
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and not name.startswith("_"):
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _rfc3339(created: float) -> str:
    moment = datetime.fromtimestamp(created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def log_format(settings: Settings, stream: TextIO | None = None) -> LogFormat:
    """``AUDIT_LOG_FORMAT``, or when unset: text on a terminal, json otherwise (a
    process manager, a container runtime or a file collects it)."""
    if settings.log_format is not None:
        return settings.log_format
    stream = sys.stderr if stream is None else stream
    return "text" if stream.isatty() else "json"


def request_log_on(settings: Settings, chosen: LogFormat) -> bool:
    """``AUDIT_ACCESS_LOG``, or when unset: on with json logs, off with text ones."""
    return chosen == "json" if settings.access_log is None else settings.access_log


def logging_config(settings: Settings, stream: TextIO | None = None) -> dict[str, Any]:
    """The ``dictConfig`` of a process on ``settings``: one stderr handler on the root
    logger that uvicorn's loggers propagate to; uvicorn's own access log off (the
    service's request log, ``audit_trail.access``, replaces it)."""
    chosen = log_format(settings, stream)
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if chosen == "json" else {"format": TEXT_FORMAT}
    )
    level = settings.log_level.upper()
    inherit: dict[str, Any] = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"service": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "service",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {**inherit, "level": level},
            "uvicorn.error": {**inherit, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": False},
            ACCESS_LOGGER: {
                **inherit,
                "level": "NOTSET" if request_log_on(settings, chosen) else "WARNING",
            },
        },
    }


def configure_logging(settings: Settings) -> dict[str, Any]:
    """Apply ``logging_config(settings)`` to this process; return it (for uvicorn)."""
    config = logging_config(settings)
    logging.config.dictConfig(config)
    return config
