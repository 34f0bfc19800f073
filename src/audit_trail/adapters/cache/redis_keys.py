"""The Redis key layout and Lua scripts of ``RedisQueryCache`` (see that module for why).

``P`` is the key prefix; tenants are written as they are (a page key is read from
the right: digest, generation and epoch never contain ``:``)::

    P:epoch                                      global epoch, no TTL
    P:instance                                   run id of the Redis that set the epoch
    P:gen:<tenant>                               the tenant's generation
    P:page:<tenant>:<epoch>:<generation>:<sha256 of the canonical query>
    P:lock:<tenant>:<epoch>:<generation>:<sha256 of the canonical query>
    P:index:<tenant>     sorted set: "<charged bytes>:<page key>" by the time it was stored
    P:bytes:<tenant>     what the tenant's indexed pages are charged, in all

Each script runs atomically and returns in one round trip. ``READ`` builds the page
key from the counters it has just read, so it touches a key it was not given: fine
on a single Redis server (Redis Cluster is not supported: the epoch is global).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

# Status codes returned by READ and PEEK.
FOUND, CLAIMED, BUSY, FREE = 1, 2, 3, 0


def fresh_counter() -> int:
    """A starting value for a counter that has to be (re)created.

    Random rather than 0 so that a counter that was lost (expired, evicted, flushed)
    never climbs back to a value that pages are still stored under; 2**62 leaves
    room for 2**62 INCRs."""
    # not a secret, only unlikely to repeat: the random module (reseeded in forked
    # children) costs a fraction of the system's CSPRNG on the hot read
    return random.getrandbits(62) + 1


@dataclass(frozen=True, slots=True)
class PageKeys:
    page: str
    lock: str
    index: str
    charged: str


@dataclass(frozen=True, slots=True)
class KeyLayout:
    prefix: str

    @property
    def epoch(self) -> str:
        return f"{self.prefix}:epoch"

    @property
    def instance(self) -> str:
        return f"{self.prefix}:instance"

    def index(self, tenant: str) -> str:
        return f"{self.prefix}:index:{tenant}"

    def charged(self, tenant: str) -> str:
        return f"{self.prefix}:bytes:{tenant}"

    def generation(self, tenant: str) -> str:
        return f"{self.prefix}:gen:{tenant}"

    def page_stem(self, tenant: str) -> str:
        """What READ appends ``<epoch>:<generation>:<digest>`` to."""
        return f"{self.prefix}:page:{tenant}:"

    def lock_stem(self, tenant: str) -> str:
        """What READ appends ``<epoch>:<generation>:<digest>`` to for the fill lock."""
        return f"{self.prefix}:lock:{tenant}:"

    def page(self, tenant: str, epoch: str, generation: str, digest: str) -> PageKeys:
        tail = f"{tenant}:{epoch}:{generation}:{digest}"
        return PageKeys(
            page=f"{self.prefix}:page:{tail}",
            lock=f"{self.prefix}:lock:{tail}",
            index=self.index(tenant),
            charged=self.charged(tenant),
        )


def digest(query_key: str) -> str:
    return hashlib.sha256(query_key.encode()).hexdigest()


# KEYS: epoch, generation. ARGV: fresh epoch, fresh generation, generation TTL (s),
# page key stem, lock key stem, query digest, lock token, lock TTL (ms). A missing
# counter is created with its fresh value. Returns {epoch, generation, FOUND, page},
# or, when the page is missing, {epoch, generation, CLAIMED} (its fill lock is now
# ours) or {epoch, generation, BUSY} (someone else is filling it).
READ = f"""
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
local tail = epoch .. ':' .. generation .. ':' .. ARGV[6]
local page = redis.call('GET', ARGV[4] .. tail)
if page then
  return {{epoch, generation, {FOUND}, page}}
end
if redis.call('SET', ARGV[5] .. tail, ARGV[7], 'NX', 'PX', ARGV[8]) then
  return {{epoch, generation, {CLAIMED}}}
end
return {{epoch, generation, {BUSY}}}
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

# KEYS: instance, epoch. ARGV: the run id of the Redis server answering, a fresh epoch.
# Renews the epoch unless it was set on this very server (process): run on every new
# connection, it makes pages that a restart (persistence, a failover) brought back
# unreachable before the connection serves anything. Returns 1 when it renewed.
FENCE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""

# How much one page is charged against its tenant's budget beyond its value: its key,
# its index entry and Redis's own bookkeeping, roughly.
PAGE_OVERHEAD = 512
# Most index entries one STORE drops (expired) or evicts (oldest first): bounded work.
MAX_EVICTIONS = 64

# KEYS: page, lock, index, bytes. ARGV: value, TTL (ms), token ('' when we hold no lock),
# '1' to store, the tenant's byte budget, what the page is charged, MAX_EVICTIONS.
# Stores the page (unless told not to, or it is there already) within the budget:
# drops index entries whose pages have expired, then evicts the tenant's oldest pages
# until the new one fits; if it still does not, it is not stored. Releases the lock if
# it is still ours. Returns {stored (0/1), pages evicted}.
STORE = """
local stored, evicted = 0, 0
local function charge_of(member)
  return tonumber(string.match(member, '^(%d+):'))
end
local function drop(member)
  redis.call('DEL', string.sub(member, string.find(member, ':', 1, true) + 1))
  redis.call('ZREM', KEYS[3], member)
  return charge_of(member)
end
if ARGV[4] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then
  local ttl, budget, charge = tonumber(ARGV[2]), tonumber(ARGV[5]), tonumber(ARGV[6])
  local most = tonumber(ARGV[7])
  local clock = redis.call('TIME')
  local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  local total = tonumber(redis.call('GET', KEYS[4]))
  if not total then  -- lost (evicted, say): count again what the index holds
    total = 0
    for _, member in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
      total = total + charge_of(member)
    end
  end
  local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - ttl, 'LIMIT', 0, most)
  for _, member in ipairs(expired) do
    total = total - drop(member)
  end
  while total + charge > budget and evicted < most do
    local oldest = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
    if not oldest then
      break
    end
    total = total - drop(oldest)
    evicted = evicted + 1
  end
  if total + charge <= budget then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
    redis.call('ZADD', KEYS[3], now, charge .. ':' .. KEYS[1])
    total = total + charge
    stored = 1
  end
  redis.call('SET', KEYS[4], total, 'PX', ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
end
return {stored, evicted}
"""

# KEYS: index, bytes. Deletes every page the tenant's index names, then the index and
# its byte count (erasure: no cached copy of a value may outlive it). A page stored
# without an index entry cannot exist: STORE indexes every page it stores.
FORGET = """
local pages = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  pages = pages + redis.call('DEL', string.sub(member, string.find(member, ':', 1, true) + 1))
end
redis.call('DEL', KEYS[1], KEYS[2])
return pages
"""
