"""uvicorn's HTTP protocols with the bounds uvicorn leaves out (docs/operations.md, "Limits").

uvicorn bounds neither the size of a request's head with httptools nor the time a
client may take to send it with either parser: one connection sending a byte every
half second holds its slot for ever. Each class here is uvicorn's own protocol with
three bounds on the bytes read, whatever the parser:

- the head (request line and header fields) larger than ``AUDIT_MAX_HEADER_BYTES``:
  431 problem+json, then the connection is closed;
- the head not complete ``AUDIT_HEADER_TIMEOUT_SECONDS`` after its first byte (or
  after the connection opened): 408, closed;
- the whole request (head and body) not read ``AUDIT_REQUEST_TIMEOUT_SECONDS`` after
  its first byte: 408 when no response has started, closed.

``audit-trail serve`` names these classes by import string (``http=``), so each
worker process builds them and reads the bounds from its own environment.
"""

from __future__ import annotations

import asyncio
import functools
import http
import json
import os
import resource
import weakref
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from audit_trail.entrypoints.settings import load_settings

END_OF_HEAD = b"\r\n\r\n"
LINGER_SECONDS = 2.0
SWEEP_SECONDS = 0.25  # how often deadlines are compared with the clock
# descriptors kept free for what is not a client connection: storage, Redis, logs, files
FD_HEADROOM = 64
MIN_CONNECTIONS = 16
Phase = Literal["head", "body", "idle", "closed"]


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_header_bytes: int
    header_timeout_seconds: float
    request_timeout_seconds: float
    max_connections: int | None  # None: as the descriptor limit allows, read when needed


@functools.cache
def connection_limits() -> ConnectionLimits:
    settings = load_settings(os.environ)
    return ConnectionLimits(
        settings.max_header_bytes,
        settings.header_timeout_seconds,
        settings.request_timeout_seconds,
        settings.max_connections,
    )


def default_max_connections() -> int:
    """As many connections as the process may open descriptors, less a headroom: past
    it a new connection is answered 503 at once rather than accepted until ``accept``
    fails with "Too many open files" and every client waits."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 65_536
    return max(MIN_CONNECTIONS, soft - FD_HEADROOM)


def problem_response(status: int, detail: str, *headers: str) -> bytes:
    """A whole HTTP/1.1 response closing the connection, with an RFC 9457 body."""
    phrase = http.HTTPStatus(status).phrase
    body = json.dumps(
        {"type": "about:blank", "title": phrase, "status": status, "detail": detail}
    ).encode()
    head = (
        f"HTTP/1.1 {status} {phrase}\r\n"
        "content-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\n"
        + "".join(f"{header}\r\n" for header in headers)
        + "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _Bounded(asyncio.Protocol):
    """Mixed in before a uvicorn protocol: counts and times the bytes of each request.

    The phase moves head -> body -> idle: the head ends when the parser starts a new
    request cycle, the body when that cycle has no more body to come. Idle
    connections between requests are uvicorn's keep-alive timeout's business.

    A request costs no timer: it sets deadlines, which the ``DeadlineSweep`` of its
    event loop compares with the clock a few times a second."""

    # provided by the uvicorn protocol
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    cycle: Any
    connections: set[Any]
    _phase: Phase

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_bounds()

    def data_received(self, data: bytes) -> None:
        if self._bounded_data(data):
            super().data_received(data)
            self._after_data()

    def connection_lost(self, exc: Exception | None) -> None:
        self._phase = "closed"
        super().connection_lost(exc)

    def _start_bounds(self) -> None:
        self._limits = connection_limits()
        self._phase = "head"
        self._head = bytearray()  # a head that came in pieces, so far
        self._cycle_before: object = None
        self._head_deadline: float | None = self.loop.time() + self._limits.header_timeout_seconds
        self._request_deadline: float | None = None
        DeadlineSweep.of(self.loop, self.connections).start()
        if len(self.connections) > (self._limits.max_connections or default_max_connections()):
            # answered before reading: closing at once keeps the descriptors bounded
            self._phase = "closed"
            self.transport.write(
                problem_response(503, "The server has too many open connections.", "retry-after: 1")
            )
            self.transport.close()

    def check_deadlines(self, now: float) -> None:
        """What the sweep calls: cuts the request off when a deadline has passed."""
        if self._phase == "head" and self._head_deadline is not None and now >= self._head_deadline:
            self._timed_out("head")
        elif self._request_deadline is not None and now >= self._request_deadline:
            self._timed_out("request")

    def _bounded_data(self, data: bytes) -> bool:
        """Whether ``data`` may go to the parser; refuses the request when not."""
        phase = self._phase
        if phase == "closed":
            return False
        if phase == "idle":  # the first bytes of the next request
            self._phase = phase = "head"
            self._head.clear()
            self._head_deadline = self.loop.time() + self._limits.header_timeout_seconds
        if self._request_deadline is None:
            self._request_deadline = self.loop.time() + self._limits.request_timeout_seconds
        if phase == "head":
            self._cycle_before = self.cycle
            return self._head_data(data)
        return True

    def _head_data(self, data: bytes) -> bool:
        """Keeps the head (bounded) until it ends, then checks its framing."""
        limit = self._limits.max_header_bytes
        if self._head:
            start = max(0, len(self._head) - len(END_OF_HEAD) + 1)
            self._head += data
            head: bytes | bytearray = self._head
        else:  # most heads arrive whole: no copy
            start, head = 0, data
        end = head.find(END_OF_HEAD, start)
        if (end < 0 and len(head) > limit) or end + len(END_OF_HEAD) > limit:
            self._refuse(431, f"The request's header fields exceed {limit} bytes.")
            return False
        if end < 0:
            if not self._head:
                self._head += data
            return True
        fields = head[:end].lower()
        self._head.clear()
        if b"\ncontent-length:" in fields and b"\ntransfer-encoding:" in fields:
            # RFC 9112, section 6.3: a message framed both ways is a smuggling attempt
            self._refuse(400, "The request has both Content-Length and Transfer-Encoding.")
            return False
        return True

    def _after_data(self) -> None:
        if self._phase == "head" and self.cycle is not self._cycle_before:
            self._phase = "body"
            self._head_deadline = None
        if self._phase == "body" and self.cycle is not None and not self.cycle.more_body:
            self._phase = "idle"
            self._request_deadline = None

    def _timed_out(self, what: Literal["head", "request"]) -> None:
        if self._phase in ("closed", "idle") or (what == "head" and self._phase != "head"):
            return
        if self._phase == "head" and not self._head and self.cycle is None:
            self._close()  # a connection that never sent a byte gets no answer
            return
        seconds = (
            self._limits.header_timeout_seconds
            if what == "head"
            else self._limits.request_timeout_seconds
        )
        part = "header fields" if what == "head" else "request"
        cycle = self.cycle
        if self._phase == "body" and cycle is not None and cycle.response_started:
            cycle.disconnected = True
            self._close()
            return
        if self._phase == "body" and cycle is not None:
            cycle.disconnected = True
        self._refuse(408, f"The {part} did not arrive within {seconds:g} seconds.")

    def _refuse(self, status: int, detail: str) -> None:
        """Answers and closes, lingering: what the client still sends is read and
        dropped for a moment, so that closing does not reset the connection (and
        lose the answer) while the client's bytes are unread."""
        transport = self.transport
        if transport.is_closing():
            return
        self._phase = "closed"
        transport.write(problem_response(status, detail))
        if transport.can_write_eof():
            transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, transport.close)
        else:
            transport.close()

    def _close(self) -> None:
        self._phase = "closed"
        self.transport.close()


class DeadlineSweep:
    """One per event loop: every ``SWEEP_SECONDS`` while connections are open, asks each
    bounded connection to check its deadlines (so a bound is kept to within that)."""

    _of_loop: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, DeadlineSweep]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, connections: set[Any]) -> None:
        self._loop = loop
        self._connections = connections
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop, connections: set[Any]) -> DeadlineSweep:
        sweep = cls._of_loop.get(loop)
        if sweep is None:
            sweep = cls._of_loop[loop] = cls(loop, connections)
        return sweep

    def start(self) -> None:
        """Sweeps from now on, until no connection is left."""
        if self._timer is None:
            self._timer = self._loop.call_later(SWEEP_SECONDS, self._sweep)

    def _sweep(self) -> None:
        self._timer = None
        now = self._loop.time()
        for connection in list(self._connections):
            if isinstance(connection, _Bounded):
                connection.check_deadlines(now)
        if self._connections:
            self.start()


class BoundedHttpToolsProtocol(_Bounded, HttpToolsProtocol):
    """uvicorn's httptools protocol, bounded."""


class BoundedH11Protocol(_Bounded, H11Protocol):
    """uvicorn's h11 protocol, bounded."""
