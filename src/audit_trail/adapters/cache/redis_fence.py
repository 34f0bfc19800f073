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

Used as the ``on_connect`` of ``RedisLink``: it runs after the handshake, before the
connection carries anything else.
"""

from __future__ import annotations

import logging

from redis.exceptions import ResponseError

from audit_trail.adapters.cache import redis_keys as rk
from audit_trail.adapters.cache.redis_link import Execute

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

    async def on_connect(self, execute: Execute) -> None:
        """The check, on a new connection whose commands ``execute`` sends."""
        try:
            server = run_id(await execute("INFO", "server"))
        except ResponseError as exc:  # e.g. an ACL without INFO
            server = None
            if not self._warned:
                self._warned = True
                log.warning("Redis query cache: INFO refused (%s): restarts go unnoticed", exc)
        if server is None or server == self._checked:
            return
        keys = self._keys
        if await execute(
            "EVAL", rk.FENCE, 2, keys.instance, keys.epoch, server, rk.fresh_counter()
        ):
            self.renewals += 1
            log.info(
                "Redis query cache: Redis server run %s set no epoch yet; renewed it, "
                "pages stored before are unreachable",
                server[:8],
            )
        self._checked = server
