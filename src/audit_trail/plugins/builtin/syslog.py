"""Built-in plugin ``syslog``: a sink that ships every change as an RFC 5424 message
over TCP (``syslog_format``), enabled by ``AUDIT_SYSLOG_URL=tcp://host:port`` (off by
default); ``AUDIT_SYSLOG_FACILITY`` (``local0``) sets the facility.

One connection, opened on first use and again after any failure (the failed batch is
then raised, so the forwarder sends it again after its backoff). Syslog over TCP has
no acknowledgement: a batch counts as shipped once the kernel took it, so messages
written just before the collector vanished can be lost; a collector closing the
connection is noticed before the next batch is written.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from audit_trail.core.usecases.change_reader import Change
from audit_trail.plugins.builtin.syslog_format import FACILITIES, Header, frame, message
from audit_trail.plugins.errors import PluginSetupError
from audit_trail.plugins.hookspecs import hookimpl

CONNECT_TIMEOUT_SECONDS = 5.0


def parse_url(url: str) -> tuple[str, int]:
    """``tcp://host:port`` as (host, port); ``PluginSetupError`` naming the setting."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "tcp" or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise PluginSetupError(f"AUDIT_SYSLOG_URL: {url!r} is not tcp://host:port")
    return parts.hostname, port


class SyslogSink:
    def __init__(self, host: str, port: int, header: Header) -> None:
        self._address = (host, port)
        self._header = header
        self._connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    @hookimpl
    async def audit_forward_changes(self, tenant: str, changes: Sequence[Change]) -> None:
        data = b"".join(frame(message(tenant, change, self._header)) for change in changes)
        _, writer = await self._connect()
        try:
            writer.write(data)
            await writer.drain()
        except (OSError, ConnectionError):
            self._close()
            raise

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._connection is not None and (
            self._connection[0].at_eof() or self._connection[1].is_closing()
        ):
            self._close()  # the collector went away: what follows needs a new connection
        if self._connection is None:
            self._connection = await asyncio.wait_for(
                asyncio.open_connection(*self._address), CONNECT_TIMEOUT_SECONDS
            )
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection[1].close()
            self._connection = None


@hookimpl
def audit_configure(config: Mapping[str, Any]) -> SyslogSink | None:
    url = config.get("syslog_url")
    if not url:
        return None
    host, port = parse_url(str(url))
    facility = str(config.get("syslog_facility", "local0")).lower()
    if facility not in FACILITIES:
        raise PluginSetupError(
            f"AUDIT_SYSLOG_FACILITY: {facility!r} is not one of {', '.join(FACILITIES)}"
        )
    header = Header(FACILITIES[facility], socket.gethostname(), "audit-trail", str(os.getpid()))
    return SyslogSink(host, port, header)
