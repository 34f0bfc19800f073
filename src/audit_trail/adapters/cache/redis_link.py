"""RedisLink: one pipelined connection to Redis that every command of a process shares.

Redis answers the commands of one connection in the order it received them, so a
connection can carry many commands at once: each is written as soon as it is made
and its reply is matched to it in order (the multiplexing of StackExchange.Redis,
Lettuce and valkey-glide). This replaces redis-py's connection pool on the cache's
hot path, where the pool's checkout and release, its per-command retry and event
machinery, and command packing in Python cost more than Redis itself (profiled:
about two thirds of a cache hit's CPU). What is left per command is hiredis's own
packing and parsing (C), one write and one future.

- **Order**: commands reach Redis in the order they were sent, from every coroutine
  of the process (those of one turn of the event loop in one write); a command a
  caller stopped waiting for stays queued (an INCR that a paused Redis will run
  before any read sent after it) and its reply is dropped.
- **Handshake**: a new connection sends AUTH and SELECT as the URL says, then runs
  ``on_connect`` (the instance fence), and only then carries other commands; commands
  made meanwhile wait for it, in order.
- **Failures**: a refused or broken connection fails every command on it with
  redis-py's ``ConnectionError`` (caused by the ``OSError``); the next command
  connects again. A connection on which Redis has answered nothing for
  ``stall_seconds`` while commands wait is cut (a dead peer that sends no reset).
- **Scripts**: ``evalsha`` sends ``EVALSHA``, and the script itself only when Redis
  does not know it (after a restart or a ``SCRIPT FLUSH``).
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import hiredis
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from audit_trail.adapters.cache.deadline import LagAwareDeadline

Arg = bytes | str | int | float
Execute = Callable[..., Awaitable[Any]]
OnConnect = Callable[[Execute], Awaitable[None]]


class Script:
    """A Lua script and its SHA-1, as ``EVALSHA`` names it."""

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


class _Connection(asyncio.Protocol):
    """One socket: writes packed commands, resolves their futures in reply order."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._reader = hiredis.Reader(replyError=ResponseError)
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._outgoing: list[bytes] = []
        self._transport: asyncio.Transport | None = None
        self._progress = 0.0  # when Redis last answered, or the queue last filled
        self.lost: BaseException | None = None

    @property
    def usable(self) -> bool:
        return self.lost is None and self._transport is not None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def send(self, args: Sequence[Arg]) -> asyncio.Future[Any]:
        reply = self._loop.create_future()
        if self.lost is not None or self._transport is None:
            reply.set_exception(_broken(self.lost))
            return reply
        if not self._waiting:
            self._progress = self._loop.time()
        # hiredis's stub types the argument as a 1-tuple; it takes any length
        self._outgoing.append(hiredis.pack_command(tuple(args)))  # type: ignore[arg-type]
        if len(self._outgoing) == 1:  # one write for the commands of this loop turn
            self._loop.call_soon(self._flush)
        self._waiting.append(reply)
        return reply

    def _flush(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        if self._transport is not None and self.lost is None:
            self._transport.write(b"".join(outgoing))

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        waiting = self._waiting
        while True:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError:  # out of step with Redis: every command fails
                self.abort("Redis sent what is not RESP")
                return
            if reply is False:
                break
            if not waiting:
                self.abort("a reply that matches no command")
                return
            future = waiting.popleft()
            if future.done():  # its caller stopped waiting
                continue
            if isinstance(reply, ResponseError):
                future.set_exception(reply)
            else:
                future.set_result(reply)
        self._progress = self._loop.time()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = self.lost or exc or ConnectionResetError("Redis closed the connection")
        error = _broken(self.lost)
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)

    def stalled(self, seconds: float) -> bool:
        return bool(self._waiting) and self._loop.time() - self._progress > seconds

    def abort(self, reason: str) -> None:
        """Drop the connection now: nothing more is sent on it, what waits fails."""
        if self.lost is None:
            self.lost = ConnectionAbortedError(reason)
        if self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class RedisLink:
    def __init__(
        self,
        url: str,
        *,
        connect_seconds: float,
        stall_seconds: float,
        on_connect: OnConnect | None = None,
    ) -> None:
        self._params: dict[str, Any] = dict(parse_url(url))
        self._connect_seconds = connect_seconds
        self._stall_seconds = stall_seconds
        self._on_connect = on_connect
        self._connection: _Connection | None = None
        self._connecting: asyncio.Task[_Connection] | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._closed = False

    def send(self, *args: Arg) -> Awaitable[Any]:
        """The reply to one command, without a deadline (the command is sent now when
        the connection is up, else as soon as it is)."""
        connection = self._connection
        if connection is not None and connection.usable:
            return connection.send(args)
        return self._send_when_connected(args)

    async def call(self, *args: Arg, seconds: float | None = None, limit: float = 0.0) -> Any:
        """The reply to one command. With ``seconds``: ``TimeoutError`` after that long
        with the event loop free and no reply (``LagAwareDeadline``), never later than
        ``limit``; without: the reply, however long it takes (or a broken connection)."""
        if seconds is None:
            return await self.send(*args)
        connection = self._connection
        if connection is None or not connection.usable:
            async with asyncio.timeout(max(seconds, limit)):
                connection = await self._connected()
        reply = connection.send(args)
        deadline = LagAwareDeadline(reply, seconds, limit)
        try:
            return await reply
        finally:
            deadline.cancel()

    async def evalsha(
        self,
        script: Script,
        keys: Sequence[Arg],
        args: Sequence[Arg],
        *,
        seconds: float | None = None,
        limit: float = 0.0,
    ) -> Any:
        """``EVALSHA``, or ``EVAL`` when Redis does not know the script (yet)."""
        try:
            return await self.call(
                "EVALSHA", script.sha, len(keys), *keys, *args, seconds=seconds, limit=limit
            )
        except ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        return await self.call(
            "EVAL", script.source, len(keys), *keys, *args, seconds=seconds, limit=limit
        )

    async def aclose(self) -> None:
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- connecting -------------------------------------------------------
    async def _send_when_connected(self, args: Sequence[Arg]) -> Any:
        connection = await self._connected()
        return await connection.send(args)

    async def _connected(self) -> _Connection:
        if self._closed:
            raise RedisConnectionError("the Redis link is closed")
        connection = self._connection
        if connection is not None and connection.usable:
            return connection
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.ensure_future(self._connect())
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_seconds):
                _, connection = await self._open(loop)
                await self._handshake(connection)
        except OSError as exc:  # TimeoutError included
            raise RedisConnectionError(f"cannot reach Redis: {exc}") from exc
        self._connection = connection
        if self._watchdog is None:
            self._watchdog = loop.call_later(self._watch_interval, self._watch)
        return connection

    async def _open(self, loop: asyncio.AbstractEventLoop) -> tuple[Any, _Connection]:
        params = self._params
        kind = params.get("connection_class")
        if kind is UnixDomainSocketConnection:
            return await loop.create_unix_connection(lambda: _Connection(loop), params["path"])
        secure = ssl.create_default_context() if kind is SSLConnection else None
        return await loop.create_connection(
            lambda: _Connection(loop),
            params.get("host", "localhost"),
            params.get("port", 6379),
            ssl=secure,
        )

    async def _handshake(self, connection: _Connection) -> None:
        params = self._params

        def execute(*args: Arg) -> Awaitable[Any]:
            return connection.send(args)

        try:
            if params.get("password") is not None:
                user = [params["username"]] if params.get("username") else []
                await execute("AUTH", *user, params["password"])
            if params.get("db", 0):
                await execute("SELECT", params["db"])
            if self._on_connect is not None:
                await self._on_connect(execute)
        except BaseException:
            connection.close()
            raise

    @property
    def _watch_interval(self) -> float:
        return max(0.05, self._stall_seconds / 4)

    def _watch(self) -> None:
        connection = self._connection
        if connection is not None and connection.stalled(self._stall_seconds):
            connection.abort("Redis stopped answering")  # the next command reconnects
        self._watchdog = None
        if not self._closed:
            loop = asyncio.get_running_loop()
            self._watchdog = loop.call_later(self._watch_interval, self._watch)


def _broken(cause: BaseException | None) -> RedisConnectionError:
    error = RedisConnectionError(f"the Redis connection is broken: {cause}")
    error.__cause__ = cause
    return error
