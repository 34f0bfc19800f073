"""RFC 5424 syslog messages of changes, framed for TCP by octet counting (RFC 6587
§3.4.1): ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [audit@32473 ...] BOM{json}``.

PRI is facility * 8 + severity: informational (6) for ``record`` and ``amend``,
notice (5) for ``delete``, ``erase`` and ``purge``. MSGID is the change's kind. The
structured data element ``audit@32473`` (32473: the enterprise number RFC 5612
reserves for examples) carries ``id``, ``tenant``, ``revision``, ``action``,
``actor_id``, ``kind`` and ``log_index`` (those the change has), each value escaped per
§6.3.3. MSG is the change's data as JSON, UTF-8 with a BOM (§6.4).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audit_trail.core.usecases.change_reader import Change

SD_ID = "audit@32473"
BOM = b"\xef\xbb\xbf"
INFO, NOTICE = 6, 5
NOTICE_KINDS = frozenset({"delete", "erase", "purge"})
FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
    "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
    **{f"local{n}": 16 + n for n in range(8)},
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Header:
    """What every message of one service has in common (NILVALUE ``-`` when empty)."""

    facility: int = FACILITIES["local0"]
    hostname: str = "-"
    app_name: str = "audit-trail"
    procid: str = "-"


def escape_param(value: str) -> str:
    """An SD-PARAM value with ``\\``, ``"`` and ``]`` escaped (RFC 5424 §6.3.3)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def header_field(value: str, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, at most ``limit`` long."""
    kept = "".join(c for c in value if 33 <= ord(c) <= 126)[:limit]
    return kept or "-"


def sd_params(tenant: str, change: Change) -> dict[str, str]:
    data = change.data
    actor = data.get("actor")
    actor_id = actor.get("id") if isinstance(actor, Mapping) else data.get("recorded_by")
    params: dict[str, Any] = {
        "id": data.get("id"),
        "tenant": tenant,
        "revision": data.get("revision"),
        "action": data.get("action"),
        "actor_id": actor_id,
        "kind": change.kind,
        "log_index": change.index,
    }
    return {name: str(value) for name, value in params.items() if value is not None}


def message(tenant: str, change: Change, header: Header) -> bytes:
    """The RFC 5424 message of one change."""
    severity = NOTICE if change.kind in NOTICE_KINDS else INFO
    timestamp = header_field(str(change.data.get("recorded_at", "-")), 32)
    sd = " ".join(f'{k}="{escape_param(v)}"' for k, v in sd_params(tenant, change).items())
    head = (
        f"<{header.facility * 8 + severity}>1 {timestamp} {header_field(header.hostname, 255)}"
        f" {header_field(header.app_name, 48)} {header_field(header.procid, 128)}"
        f" {header_field(change.kind, 32)} [{SD_ID} {sd}] "
    )
    body = json.dumps(change.data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return head.encode() + BOM + body.encode()


def frame(msg: bytes) -> bytes:
    """Octet-counting framing (RFC 6587 §3.4.1): ``MSG-LEN SP SYSLOG-MSG``."""
    return b"%d %s" % (len(msg), msg)
