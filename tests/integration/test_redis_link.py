"""RedisLink against a real redis-server: many commands on one connection, each
answered with its own reply, through errors, restarts, flushes and a silent peer."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from audit_trail.adapters.cache.redis_link import Execute, RedisLink, Script
from tests.servers import RedisServer, free_port

SLOW = 1.0


@pytest.fixture
async def link(own_redis: RedisServer) -> AsyncIterator[RedisLink]:
    link = RedisLink(own_redis.url, connect_seconds=5, stall_seconds=10)
    yield link
    await link.aclose()


async def test_concurrent_commands_each_get_their_own_reply(
    link: RedisLink, admin: redis.Redis
) -> None:
    keys = [f"k{i}" for i in range(500)]
    await asyncio.gather(*(link.call("SET", key, key.upper(), seconds=SLOW) for key in keys))
    replies = await asyncio.gather(*(link.call("GET", key, seconds=SLOW) for key in keys))
    assert replies == [key.upper().encode() for key in keys]
    assert admin.get("k499") == b"K499"
    clients = [c for c in admin.client_list() if c["cmd"] != "client|list"]
    assert len(clients) == 1  # one connection carried them all


async def test_an_error_reply_fails_only_its_own_command(link: RedisLink) -> None:
    await link.call("SET", "text", "not a number", seconds=SLOW)
    results = await asyncio.gather(
        link.call("INCR", "text", seconds=SLOW),
        link.call("INCR", "counter", seconds=SLOW),
        return_exceptions=True,
    )
    assert isinstance(results[0], ResponseError)
    assert "not an integer" in str(results[0])
    assert results[1] == 1


async def test_a_script_redis_forgot_is_sent_again(link: RedisLink, admin: redis.Redis) -> None:
    script = Script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert await link.evalsha(script, ["n"], [2], seconds=SLOW) == 2
    admin.script_flush()
    assert await link.evalsha(script, ["n"], [3], seconds=SLOW) == 5
    assert admin.script_exists(script.sha) == [True]


async def test_a_refused_connection_says_so_and_the_next_command_connects(
    tmp_path: Path,
) -> None:
    server = RedisServer(tmp_path, port=free_port())
    link = RedisLink(server.url, connect_seconds=5, stall_seconds=10)
    try:
        with pytest.raises(RedisConnectionError) as refused:
            await link.call("PING", seconds=SLOW)
        assert isinstance(refused.value.__cause__, ConnectionRefusedError)
        server.start()
        assert await link.call("PING", seconds=SLOW) == b"PONG"
    finally:
        await link.aclose()
        server.stop()


async def test_a_restart_fails_the_commands_in_flight_then_reconnects_and_handshakes(
    own_redis: RedisServer,
) -> None:
    connects: list[bytes] = []

    async def on_connect(execute: Execute) -> None:
        connects.append(await execute("INFO", "server"))

    link = RedisLink(own_redis.url, connect_seconds=5, stall_seconds=10, on_connect=on_connect)
    try:
        assert await link.call("SET", "a", 1, seconds=SLOW)
        blocked = asyncio.ensure_future(link.call("BLPOP", "nothing", 0))
        await asyncio.sleep(0.1)
        await asyncio.to_thread(own_redis.kill)
        with pytest.raises(RedisConnectionError):
            await blocked
        await asyncio.to_thread(own_redis.start)
        assert await link.call("GET", "a", seconds=SLOW) is None  # a new server run
        assert len(connects) == 2
    finally:
        await link.aclose()


async def test_a_command_given_up_on_stays_queued_and_its_late_reply_is_dropped(
    link: RedisLink, admin: redis.Redis
) -> None:
    await link.call("SET", "x", 0, seconds=SLOW)
    admin.client_pause(300, all=False)  # writes wait in Redis's queue
    with pytest.raises(TimeoutError):
        await link.call("INCR", "x", seconds=0.05, limit=0.05)
    # sent after the INCR: Redis runs it after the INCR, and this reply is its own
    assert await link.call("INCR", "x", seconds=SLOW, limit=SLOW) == 2


async def test_a_peer_that_stops_answering_is_cut_off(own_redis: RedisServer) -> None:
    link = RedisLink(own_redis.url, connect_seconds=5, stall_seconds=0.3)
    try:
        assert await link.call("PING", seconds=SLOW) == b"PONG"
        os.kill(own_redis.pid or 0, 19)  # SIGSTOP: the socket stays open, nothing answers
        began = time.monotonic()
        try:
            async with asyncio.timeout(5):  # a link that never cuts it off fails here
                with pytest.raises(RedisConnectionError):
                    await link.send("PING")
        finally:
            os.kill(own_redis.pid or 0, 18)  # SIGCONT
        assert time.monotonic() - began < 2
        assert await link.call("PING", seconds=SLOW) == b"PONG"
    finally:
        await link.aclose()


async def test_auth_and_database_come_from_the_url(own_redis: RedisServer) -> None:
    admin = own_redis.client()
    admin.config_set("requirepass", "s3cret")
    url = f"redis://:s3cret@127.0.0.1:{own_redis.port}/5"
    link = RedisLink(url, connect_seconds=5, stall_seconds=10)
    try:
        await link.call("SET", "where", "db5", seconds=SLOW)
        check = redis.Redis(port=own_redis.port, host="127.0.0.1", password="s3cret", db=5)
        assert check.get("where") == b"db5"
        check.close()
        wrong = RedisLink(url.replace("s3cret", "wrong"), connect_seconds=5, stall_seconds=10)
        with pytest.raises(ResponseError):
            await wrong.call("PING", seconds=SLOW)
        await wrong.aclose()
    finally:
        await link.aclose()
        authed = redis.Redis(port=own_redis.port, host="127.0.0.1", password="s3cret")
        authed.config_set("requirepass", "")
        authed.close()
        admin.close()


async def test_a_closed_link_refuses_commands(link: RedisLink) -> None:
    await link.call("PING", seconds=SLOW)
    await link.aclose()
    with pytest.raises(RedisConnectionError):
        await link.call("PING", seconds=SLOW)


async def test_a_peer_out_of_step_fails_its_commands_instead_of_mismatching_them() -> None:
    answers = iter([b"?not resp\r\n", b"+OK\r\n+UNASKED\r\n", b"+OK\r\n"])

    async def impostor(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            writer.write(next(answers, b"+OK\r\n"))

    server = await asyncio.start_server(impostor, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    link = RedisLink(f"redis://127.0.0.1:{port}/0", connect_seconds=5, stall_seconds=10)
    try:
        with pytest.raises(RedisConnectionError):  # garbage: the connection is dropped
            await link.call("PING", seconds=SLOW)
        assert await link.call("PING", seconds=SLOW) == b"OK"  # a new connection
        # the unasked reply that followed broke that one too; the next one works
        assert await link.call("PING", seconds=SLOW) == b"OK"
    finally:
        await link.aclose()
        server.close()
