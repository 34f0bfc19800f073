"""LagAwareDeadline: a deadline that a busy event loop does not trip."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop

from audit_trail.adapters.cache.deadline import LagAwareDeadline


async def test_no_reply_while_the_loop_is_free_times_out() -> None:
    loop = asyncio.get_running_loop()
    reply: asyncio.Future[str] = loop.create_future()
    began = loop.time()
    LagAwareDeadline(reply, 0.05, 1.0)
    with pytest.raises(TimeoutError):
        await reply
    assert 0.04 <= loop.time() - began < 0.5


async def test_a_reply_held_up_by_a_blocked_loop_still_wins() -> None:
    loop = asyncio.get_running_loop()
    reply: asyncio.Future[str] = loop.create_future()
    LagAwareDeadline(reply, 0.05, 1.0)
    loop.call_later(0.06, reply.set_result, "answer")  # due after the deadline
    loop.call_later(0.01, time.sleep, 0.2)  # the loop does nothing else meanwhile
    assert await reply == "answer"


async def test_a_loop_that_stays_busy_gives_up_at_the_limit() -> None:
    loop = asyncio.get_running_loop()
    reply: asyncio.Future[str] = loop.create_future()
    busy = True

    def block() -> None:
        time.sleep(0.04)
        if busy:
            loop.call_soon(block)

    began = loop.time()
    LagAwareDeadline(reply, 0.02, 0.3)
    loop.call_soon(block)
    try:
        with pytest.raises(TimeoutError):
            await reply
    finally:
        busy = False
    assert 0.25 <= loop.time() - began < 1.0


async def test_a_cancelled_deadline_never_fires() -> None:
    loop = asyncio.get_running_loop()
    reply: asyncio.Future[str] = loop.create_future()
    LagAwareDeadline(reply, 0.02, 0.02).cancel()
    loop.call_later(0.1, reply.set_result, "late but fine")
    assert await reply == "late but fine"


def test_a_reply_waiting_in_the_socket_when_the_timer_fires_wins_on_uvloop() -> None:
    # uvloop runs due timers before it reads its sockets again. A turn that handles
    # another socket until just after the deadline, while the reply arrives, leaves
    # the timer (nearly) on time and the reply unread.
    async def scenario() -> str:
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[str] = loop.create_future()
        busy_ours, busy_theirs = socket.socketpair()
        reply_ours, reply_theirs = socket.socketpair()
        began = time.monotonic()

        class Busy(asyncio.Protocol):
            def data_received(self, data: bytes) -> None:
                reply_theirs.send(b"answer")  # arrives while this turn goes on
                time.sleep(max(0.0, 0.054 - (time.monotonic() - began)))

        class Reader(asyncio.Protocol):
            def data_received(self, data: bytes) -> None:
                if not reply.done():
                    reply.set_result(data.decode())

        busy, _ = await loop.create_connection(Busy, sock=busy_ours)
        reader, _ = await loop.create_connection(Reader, sock=reply_ours)
        try:
            began = time.monotonic()
            LagAwareDeadline(reply, 0.05, 1.0)
            busy_theirs.send(b"work")
            return await reply
        finally:
            for transport in (busy, reader):
                transport.close()
            busy_theirs.close()
            reply_theirs.close()

    assert uvloop.run(scenario()) == "answer"


class PausedAfterReadingTheClock:
    """The running loop, as seen by a process that is descheduled for 1.5 ms each
    time it has read the clock (as happens on a loaded machine)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def time(self) -> float:
        now = self._loop.time()
        time.sleep(0.0015)
        return now

    def __getattr__(self, name: str) -> object:
        return getattr(self._loop, name)


@pytest.mark.parametrize("run", [uvloop.run, asyncio.run], ids=["uvloop", "asyncio"])
def test_the_last_look_comes_after_a_poll_however_late_the_clock_reads(
    run: Callable[[Coroutine[Any, Any, str]], str],
) -> None:
    # A stale clock reading once turned the last look into a zero-delay timer, which
    # uvloop runs before it polls its sockets: the reply sat unread and it timed out.
    async def scenario() -> str:
        loop = asyncio.get_running_loop()
        seen_by_the_deadline = PausedAfterReadingTheClock(loop)

        class Reply(asyncio.Future[str]):
            def get_loop(self) -> asyncio.AbstractEventLoop:
                return seen_by_the_deadline  # type: ignore[return-value]

        reply = Reply()
        reply_ours, reply_theirs = socket.socketpair()

        class Reader(asyncio.Protocol):
            def data_received(self, data: bytes) -> None:
                if not reply.done():
                    reply.set_result(data.decode())

        reader, _ = await loop.create_connection(Reader, sock=reply_ours)
        try:
            began = loop.time()
            LagAwareDeadline(reply, 0.05, 1.0)
            loop.call_at(began + 0.05, reply_theirs.send, b"answer")  # just in time
            settled: asyncio.Future[None] = loop.create_future()
            reply.add_done_callback(lambda _: settled.set_result(None))
            await settled  # (a task may only await a future of its own loop)
            return reply.result()
        finally:
            reader.close()
            reply_theirs.close()

    assert run(scenario()) == "answer"
