"""A keep-alive HTTP/1.1 client for webhooks: ``h11`` speaks the protocol, asyncio
streams (uvloop's under ``serve``) carry it.

Why not httpx: measured on one subscription's sequential deliveries to a local
receiver, httpx's client spent about 2.4 ms of CPU per POST, h11 on a stream
0.4 ms; a subscription sends one request at a time, so that cost is its ceiling
(docs/streaming.md). This client does only what delivery needs: POST a body, read
the status, drain (at most ``MAX_RESPONSE_BYTES`` of) the answer, keep the
connection for the next request.

Connections are pooled per endpoint (scheme, host, port). A new connection is only
opened through ``connect``, which the caller gives the address to dial (after its
own check, see ``addresses``), so every connection goes to a checked address; an
idle connection is dropped after ``idle_seconds``. A request on a reused connection
that the peer had closed meanwhile (no byte of an answer came) is sent once more on
a new connection, as browsers and httpx do.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import h11

MAX_RESPONSE_BYTES = 64 * 1024  # read of an answer's body; past it the connection closes
READ_SIZE = 64 * 1024

Headers = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    scheme: str  # http or https
    host: str  # the URL's host: the Host header, the TLS server name
    port: int


Dial = Callable[[Endpoint], Awaitable[str]]  # the checked address to connect to


class PeerClosed(ConnectionError):
    """The peer closed the connection before any byte of an answer."""


@dataclass(eq=False)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    protocol: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))
    idle_since: float = 0.0

    async def post(self, target: bytes, headers: Headers, body: bytes) -> int:
        """The answer's status (its body is read and dropped)."""
        protocol = self.protocol
        request = (
            h11.Request(method="POST", target=target, headers=headers),
            h11.Data(data=body),
            h11.EndOfMessage(),
        )
        self.writer.write(b"".join(protocol.send(event) or b"" for event in request))  # one send
        await self.writer.drain()
        status = 0
        drained = 0
        while True:
            event = protocol.next_event()
            if event is h11.NEED_DATA:
                data = await self.reader.read(READ_SIZE)
                if not data and status == 0:  # h11 has the peer in SEND_RESPONSE by now
                    raise PeerClosed("the connection closed before an answer")
                protocol.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                drained += len(event.data)
                if drained > MAX_RESPONSE_BYTES:
                    self.close()
                    return status
            elif isinstance(event, h11.EndOfMessage):
                return status
            elif isinstance(event, h11.ConnectionClosed):
                raise h11.RemoteProtocolError("the connection closed before the answer ended")

    def next_cycle(self) -> bool:
        """Ready for another request after an answer: whether the connection can be
        kept (neither side asked to close it, the whole answer was read)."""
        protocol = self.protocol
        if protocol.our_state is h11.DONE and protocol.their_state is h11.DONE:
            protocol.start_next_cycle()
            return not self.writer.is_closing()
        return False

    def close(self) -> None:
        self.writer.close()


class Http11Client:
    def __init__(
        self,
        dial: Dial,
        *,
        timeout_seconds: float,
        ssl_context: ssl.SSLContext | None = None,
        idle_seconds: float = 15.0,
        max_idle_per_endpoint: int = 8,
    ) -> None:
        self._dial = dial
        self._timeout = timeout_seconds
        self._ssl = ssl_context or ssl.create_default_context()
        self._idle_seconds = idle_seconds
        self._max_idle = max_idle_per_endpoint
        self._idle: dict[Endpoint, list[_Connection]] = {}

    async def post(self, endpoint: Endpoint, target: bytes, headers: Headers, body: bytes) -> int:
        """POST ``body`` and return the answer's status. Raises ``TimeoutError`` past
        ``timeout_seconds`` (connecting included), ``OSError`` or
        ``h11.ProtocolError`` when no answer could be had."""
        async with asyncio.timeout(self._timeout):
            connection = self._reused(endpoint)
            if connection is not None:
                try:
                    return await self._post(endpoint, connection, target, headers, body)
                except ConnectionError:  # PeerClosed included
                    pass  # closed while idle: the request goes again on a new one
            connection = await self._connect(endpoint)
            return await self._post(endpoint, connection, target, headers, body)

    async def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def _post(
        self,
        endpoint: Endpoint,
        connection: _Connection,
        target: bytes,
        headers: Headers,
        body: bytes,
    ) -> int:
        try:
            status = await connection.post(target, headers, body)
        except BaseException:
            connection.close()
            raise
        if connection.next_cycle():
            self._keep(endpoint, connection)
        else:
            connection.close()
        return status

    def _reused(self, endpoint: Endpoint) -> _Connection | None:
        idle = self._idle.get(endpoint)
        stale_before = time.monotonic() - self._idle_seconds
        while idle:
            connection = idle.pop()
            if connection.idle_since >= stale_before and not connection.reader.at_eof():
                return connection
            connection.close()
        return None

    def _keep(self, endpoint: Endpoint, connection: _Connection) -> None:
        idle = self._idle.setdefault(endpoint, [])
        if len(idle) >= self._max_idle:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    async def _connect(self, endpoint: Endpoint) -> _Connection:
        address = await self._dial(endpoint)
        if endpoint.scheme == "https":
            reader, writer = await asyncio.open_connection(
                address, endpoint.port, ssl=self._ssl, server_hostname=endpoint.host
            )
        else:
            reader, writer = await asyncio.open_connection(address, endpoint.port)
        return _Connection(reader, writer)
