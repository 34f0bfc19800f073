"""InstanceFence: every new Redis connection checks, before it serves anything, that
the cache epoch was set on the Redis server it reached.

A Redis server that restarts, or a replica that takes over, may hold an older state
than the one the service last wrote (an RDB snapshot, an AOF that lost its last
second, a replica behind its primary): older generations, and the pages stored under
them, which writes acknowledged since had made unreachable. Every server run has
its own run id (``INFO server``); the run id that last set the epoch is kept beside
it, so a connection that finds another one renews the epoch first (``FENCE``), and
pages of any earlier state are unreachable to everyone. A restart breaks every
connection, so every process goes through this before it reads again.

Used as redis-py's ``redis_connect_func``: it does the usual handshake first.
"""

from __future__ import annotations

import logging

from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ResponseError

from audit_trail.adapters.cache import redis_keys as rk

log = logging.getLogger(__name__)


def run_id(info: bytes | str) -> str | None:
    """The ``run_id`` field of an ``INFO server`` reply."""
    text = info.decode() if isinstance(info, bytes) else info
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name == "run_id":
            return value.strip()
    return None


class InstanceFence:
    def __init__(self, keys: rk.KeyLayout) -> None:
        self._keys = keys
        self._checked: str | None = None  # the last run id found fenced
        self._warned = False
        self.renewals = 0

    async def on_connect(self, connection: AbstractConnection) -> None:
        """The handshake, then the check (redis-py's ``redis_connect_func``)."""
        await connection.on_connect()
        try:
            await connection.send_command("INFO", "server")
            server = run_id(await connection.read_response())
        except ResponseError as exc:  # e.g. an ACL without INFO
            server = None
            if not self._warned:
                self._warned = True
                log.warning("Redis query cache: INFO refused (%s): restarts go unnoticed", exc)
        if server is None or server == self._checked:
            return
        keys = self._keys
        await connection.send_command(
            "EVAL", rk.FENCE, 2, keys.instance, keys.epoch, server, rk.fresh_counter()
        )
        if await connection.read_response():
            self.renewals += 1
            log.info(
                "Redis query cache: Redis server run %s set no epoch yet; renewed it, "
                "pages stored before are unreachable",
                server[:8],
            )
        self._checked = server
