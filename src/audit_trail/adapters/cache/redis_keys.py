"""The Redis key layout and Lua scripts of ``RedisQueryCache`` (see that module for why).

``P`` is the key prefix; tenants are written as they are (a page key is read from
the right: digest, generation and epoch never contain ``:``)::

    P:epoch                                      global epoch, no TTL
    P:gen:<tenant>                               the tenant's generation
    P:page:<tenant>:<epoch>:<generation>:<sha256 of the canonical query>
    P:lock:<tenant>:<epoch>:<generation>:<sha256 of the canonical query>

Each script runs atomically and returns in one round trip. ``READ`` builds the page
key from the counters it has just read, so it touches a key it was not given: fine
on a single Redis server (Redis Cluster is not supported: the epoch is global).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

# Status codes returned by CLAIM and PEEK.
FOUND, CLAIMED, BUSY, FREE = 1, 2, 3, 0


def fresh_counter() -> int:
    """A starting value for a counter that has to be (re)created.

    Random rather than 0 so that a counter that was lost (expired, evicted, flushed)
    never climbs back to a value that pages are still stored under; 2**62 leaves
    room for 2**62 INCRs."""
    return secrets.randbelow(2**62) + 1


@dataclass(frozen=True, slots=True)
class PageKeys:
    page: str
    lock: str


@dataclass(frozen=True, slots=True)
class KeyLayout:
    prefix: str

    @property
    def epoch(self) -> str:
        return f"{self.prefix}:epoch"

    def generation(self, tenant: str) -> str:
        return f"{self.prefix}:gen:{tenant}"

    def page_stem(self, tenant: str) -> str:
        """What READ appends ``<epoch>:<generation>:<digest>`` to."""
        return f"{self.prefix}:page:{tenant}:"

    def page(self, tenant: str, epoch: str, generation: str, digest: str) -> PageKeys:
        tail = f"{tenant}:{epoch}:{generation}:{digest}"
        return PageKeys(page=f"{self.prefix}:page:{tail}", lock=f"{self.prefix}:lock:{tail}")


def digest(query_key: str) -> str:
    return hashlib.sha256(query_key.encode()).hexdigest()


# KEYS: epoch, generation. ARGV: fresh epoch, fresh generation, generation TTL (s),
# page key stem, query digest. Returns {epoch, generation, page or nil}; a missing
# counter is created with its fresh value.
READ = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local generation = redis.call('GET', KEYS[2])
if not generation then
  generation = ARGV[2]
  redis.call('SET', KEYS[2], generation, 'EX', ARGV[3])
end
local page = redis.call('GET', ARGV[4] .. epoch .. ':' .. generation .. ':' .. ARGV[5])
return {epoch, generation, page}
"""

# KEYS: counter. ARGV: fresh value, TTL in seconds (0: keep none).
# INCR when the counter exists, else create it with the fresh value.
BUMP = """
local value
if redis.call('EXISTS', KEYS[1]) == 1 then
  value = redis.call('INCR', KEYS[1])
else
  value = ARGV[1]
  redis.call('SET', KEYS[1], value)
end
if tonumber(ARGV[2]) > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return value
"""

# KEYS: page, lock. ARGV: token, lock TTL (ms).
# {FOUND, page} | {CLAIMED} (the lock is ours) | {BUSY} (someone else's).
CLAIM = f"""
local page = redis.call('GET', KEYS[1])
if page then
  return {{{FOUND}, page}}
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {{{CLAIMED}}}
end
return {{{BUSY}}}
"""

# KEYS: page, lock. {FOUND, page} | {BUSY} (still being filled) | {FREE} (nobody is).
PEEK = f"""
local page = redis.call('GET', KEYS[1])
if page then
  return {{{FOUND}, page}}
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {{{BUSY}}}
end
return {{{FREE}}}
"""

# KEYS: page, lock. ARGV: value, TTL (ms), token ('' when we hold no lock), '1' to store.
# Stores the page (unless told not to) and releases the lock if it is still ours.
STORE = """
if ARGV[4] == '1' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
end
return 1
"""
