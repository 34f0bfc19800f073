"""A verifier of ``GET /entries?…&proof=1`` answers written from docs/query-proofs.md
alone.

It imports nothing of audit_trail. Checkpoints, RFC 9162 hashing, JCS and field digests
come from ``tests/independent_verifier.py`` (written from DESIGN.md alone); everything
about the index (the plan of buckets, map keys, map proofs, postings) is written here
from the page's text. ``verify_query_pages(pages, vkey, query)`` follows the page's
"Verifying a walk" and "Verifying an answer", step by step, over the pages of one
answer in order, and returns the ids of the verified entries in the query's order, or
raises ``Invalid`` naming what failed: **missing**, **extra**, **stale** and **forged**
entries by those words, as the page names them, and the page or bucket that breaks
the walk. ``verify_query_proof(body, vkey, query)`` is the same for an answer of one
page.

``query`` is the query as the client sent it, without ``proof``: the parameters of
``GET /entries`` (``actor_id``, ``since``, …, and ``sort``), one value each.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.independent_verifier import (
    Invalid,
    b64d,
    committed,
    field_digest,
    jcs,
    leaf_hash,
    mth,
    verify_checkpoint,
    verify_inclusion,
)

__all__ = [
    "Invalid",
    "map_key",
    "plan",
    "verify_map_proof",
    "verify_query_pages",
    "verify_query_proof",
]

INDEX_KEY_DOMAIN = b"audit-trail:index-key:v1"
MAX_RANGE_BUCKETS = 64  # "when there are at most 64 of them"
EMPTY_SUBTREE = bytes(32)
FILTERS = (
    "actor_id",
    "actor_type",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "tag",
    "since",
    "until",
)
POSTING_FIELDS = {"h", "i", "id", "op", "r", "t"}
SHORT_ADD_FIELDS = {"i", "id", "op", "r"}  # an add whose h and t the served entry gives
INDEX_LEAF_FIELDS = {"v", "kind", "tenant", "covers", "map_root", "key"}
PIN = ("checkpoint", "tree_size", "covers", "index")  # "the same on every page"


# --- "Which buckets prove a query" ---


@dataclass(frozen=True)
class Bucket:
    kind: str  # time | action | actor | target
    value: str  # "" | action | actor.id | target.type ‖ 0x00 ‖ target.id
    bucket: str  # "2024-03-05T14" | "2024-03-05" | "all"


def instant(text: Any) -> datetime:
    """An ISO 8601 instant that carries its timezone, in UTC."""
    if not isinstance(text, str):
        raise Invalid(f"{text!r} is not a time")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{text!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise Invalid(f"{text!r} has no timezone")
    return parsed.astimezone(UTC)


def hour(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H")


def day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def range_buckets(since: datetime, until: datetime, unit: str) -> list[str] | None:
    """The hours (or days) that ``[since, until]`` touches, or None past 64 of them."""
    step, name = (timedelta(hours=1), hour) if unit == "hour" else (timedelta(days=1), day)
    if unit == "hour":
        cursor = since.replace(minute=0, second=0, microsecond=0)
    else:
        cursor = since.replace(hour=0, minute=0, second=0, microsecond=0)
    buckets: list[str] = []
    while cursor <= until:
        if len(buckets) == MAX_RANGE_BUCKETS:
            return None
        buckets.append(name(cursor))
        cursor += step
    return buckets


def plan(query: Mapping[str, str]) -> list[Bucket]:
    """The buckets that prove ``query``, in their order.

    Proven through ``actor_id``, else ``target_type`` with ``target_id``, else
    ``action`` (exact), else the time range alone; the range's buckets when it has
    both bounds and touches at most 64 of them, otherwise the filter's ``all``."""
    since = instant(query["since"]) if "since" in query else None
    until = instant(query["until"]) if "until" in query else None
    action = query.get("action")
    if "actor_id" in query:
        kind, value, unit = "actor", query["actor_id"], "day"
    elif "target_type" in query and "target_id" in query:
        kind, value, unit = "target", query["target_type"] + "\x00" + query["target_id"], "day"
    elif action is not None and not action.endswith("*"):
        kind, value, unit = "action", action, "hour"
    else:
        kind, value, unit = "time", "", "hour"
    if since is not None and until is not None:
        buckets = range_buckets(since, until, unit)
        if buckets is not None:
            return [Bucket(kind, value, bucket) for bucket in buckets]
    if kind == "time":  # a time key has no `all` bucket
        raise Invalid(
            "nothing proves this query: it needs actor_id, target_type with target_id, "
            "action (exact), or since and until over at most 64 UTC hours"
        )
    return [Bucket(kind, value, "all")]


# --- map keys and the map ---


def map_key(index_key: bytes, bucket: Bucket) -> bytes:
    """HMAC-SHA256(index key, kind ‖ 0x00 ‖ value ‖ 0x00 ‖ bucket)."""
    message = f"{bucket.kind}\x00{bucket.value}\x00{bucket.bucket}".encode()
    return hmac.new(index_key, message, hashlib.sha256).digest()


def bit(key: bytes, depth: int) -> int:
    """Bit ``depth`` of ``key``; bit 0 is the most significant bit of the first byte."""
    return (key[depth // 8] >> (7 - depth % 8)) & 1


def map_leaf_hash(key: bytes, size: int, root: bytes) -> bytes:
    return hashlib.sha256(b"\x02" + key + size.to_bytes(8, "big") + root).digest()


def map_inner_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x03" + left + right).digest()


def hash32(text: Any, what: str) -> bytes:
    raw = b64d(text)
    if len(raw) != 32:
        raise Invalid(f"{what} is not 32 bytes")
    return raw


def count(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Invalid(f"{what} {value!r} is not a count")
    return value


def verify_map_proof(key: bytes, proof: Any, map_root: bytes) -> tuple[int, bytes]:
    """The posting log's ``(size, root)`` that ``proof`` proves for ``key`` under
    ``map_root``; ``(0, root of the empty tree)`` for an empty bucket."""
    if not isinstance(proof, dict) or set(proof) != {"siblings", "leaf"}:
        raise Invalid(f"map proof {proof!r} is not {{siblings, leaf}}")
    if not isinstance(proof["siblings"], list) or len(proof["siblings"]) > 256:
        raise Invalid("map proof siblings are not a list of at most 256")
    siblings = [EMPTY_SUBTREE if s is None else hash32(s, "map sibling") for s in proof["siblings"]]
    leaf = proof["leaf"]
    if leaf is None:
        node, value = EMPTY_SUBTREE, (0, mth([]))
    else:
        if not isinstance(leaf, dict) or set(leaf) != {"key", "size", "root"}:
            raise Invalid(f"map leaf {leaf!r} is not {{key, size, root}}")
        leaf_key = hash32(leaf["key"], "map leaf key")
        size, root = count(leaf["size"], "map leaf size"), hash32(leaf["root"], "map leaf root")
        node = map_leaf_hash(leaf_key, size, root)
        if leaf_key == key:
            value = (size, root)
        elif all(bit(leaf_key, d) == bit(key, d) for d in range(len(siblings))):
            value = (0, mth([]))  # another key alone in the subtree where key would be
        else:
            raise Invalid("map proof ends at a key off the path of the bucket's key")
    for depth in reversed(range(len(siblings))):
        if bit(key, depth):
            node = map_inner_hash(siblings[depth], node)
        else:
            node = map_inner_hash(node, siblings[depth])
    if node != map_root:
        raise Invalid("map proof does not lead to the index leaf's map_root")
    return value


# --- served entries: their leaves rebuilt ---


def b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Served:
    entry: dict[str, Any]
    leaf_hash: bytes
    hidden: frozenset[str]  # the field paths committed by a digest alone: values unknown


def get_path(entry: dict[str, Any], path: str) -> Any:
    """The value at a field path of an entry, or None when absent."""
    group, _, part = path.partition(".")
    if not part:
        return entry.get(group)
    container = entry.get(group)
    return container.get(part) if isinstance(container, dict) else None


def rebuild(item: Any, tenant: str) -> Served:
    """An item of ``entries``, its leaf rebuilt as DESIGN.md specifies it: each field
    the caller sees as committed from its value and salt, the others from their digest."""
    if not isinstance(item, dict) or set(item) != {"entry", "salts", "digests", "prev"}:
        raise Invalid(f"an item of entries is not {{entry, salts, digests, prev}}: {item!r}")
    entry, salts, digests, prev = item["entry"], item["salts"], item["digests"], item["prev"]
    name = f"entry {entry.get('id')!r}"
    if entry.get("tenant") != tenant:
        raise Invalid(f"{name} is not of tenant {tenant!r}")
    if entry.get("deleted"):
        raise Invalid(f"{name} is served deleted: only current entries are served")
    revision = count(entry.get("revision"), f"{name}: revision")
    if (prev is None) != (revision == 1):
        raise Invalid(f"{name}: only a first revision has no prev")
    if prev is not None:
        hash32(prev, f"{name}: prev")
    if set(salts) & set(digests):
        raise Invalid(f"{name}: fields with both a salt and a digest: {set(salts) & set(digests)}")
    shown = committed(entry)
    if not set(salts) <= set(shown):
        raise Invalid(f"{name}: salts for fields it does not show: {set(salts) - set(shown)}")
    fields: dict[str, str] = {}
    for path, value in shown.items():
        if path in salts:
            fields[path] = b64encode(field_digest(path, b64d(salts[path]), value))
        elif path in digests:  # shown redacted: the value is not the committed one
            fields[path] = b64encode(hash32(digests[path], f"{name}: digest of {path}"))
        else:
            raise Invalid(f"{name}: field {path} has neither a salt nor a digest")
    for path, digest in digests.items():
        fields.setdefault(path, b64encode(hash32(digest, f"{name}: digest of {path}")))
    leaf = {
        "v": 1,
        "kind": "record" if revision == 1 else "amend",
        "tenant": entry["tenant"],
        "id": entry["id"],
        "revision": revision,
        "recorded_at": entry["recorded_at"],
        "recorded_by": entry["recorded_by"],
        "prev": prev,
        "fields": fields,
    }
    return Served(entry, leaf_hash(jcs(leaf)), frozenset(digests))


def seen(served: Served, path: str, why: str) -> Any:
    """A field's value, which its salt verifies (None: the leaf has no such field). A
    field committed by its digest alone is hidden or redacted: nothing can be checked on it."""
    if path in served.hidden:
        raise Invalid(f"entry {served.entry['id']}: {path} is hidden, so {why} cannot be checked")
    return get_path(served.entry, path)


def belongs(served: Served, bucket: Bucket) -> bool:
    """Whether the served entry is filed under ``bucket``."""
    where = f"that it belongs under {bucket.kind} {bucket.value!r} {bucket.bucket}"
    if bucket.kind == "actor":
        value = seen(served, "actor.id", where)
    elif bucket.kind == "target":
        target_type, target_id = (
            seen(served, "target.type", where),
            seen(served, "target.id", where),
        )
        value = None if target_type is None else f"{target_type}\x00{target_id}"
    elif bucket.kind == "action":
        value = seen(served, "action", where)
    else:
        value = ""
    if value != bucket.value:
        return False
    if bucket.bucket == "all":
        return True
    moment = instant(seen(served, "occurred_at", where))
    return (hour(moment) if bucket.kind in ("time", "action") else day(moment)) == bucket.bucket


# --- postings ---


def whole_postings(postings: Any, covers: int, served: dict[str, Served], where: str) -> list[Any]:
    """The postings given, each made whole: an ``add`` given without ``h`` and ``t`` is
    of a revision the answer serves, and gets them from the entry as served."""
    if not isinstance(postings, list):
        raise Invalid(f"{where}: postings are not a list")
    whole: list[dict[str, Any]] = []
    for given in postings:
        if not isinstance(given, dict):
            raise Invalid(f"{where}: posting {given!r} is not an object")
        posting = given
        if set(given) == SHORT_ADD_FIELDS and given["op"] == "add":
            entry_id, revision = given["id"], given["r"]
            item = served.get(entry_id)
            if item is None:
                raise Invalid(
                    f"{where}: missing entry {entry_id}: its add (revision {revision}) comes "
                    "without h and t and the answer does not serve it"
                )
            if item.entry["revision"] != revision:
                raise Invalid(
                    f"{where}: stale entry {entry_id}: served at revision "
                    f"{item.entry['revision']}, its add is of revision {revision}"
                )
            h, t = b64encode(item.leaf_hash), item.entry["occurred_at"]
            posting = {**given, "h": h, "t": t}
        if set(posting) != POSTING_FIELDS:
            raise Invalid(f"{where}: posting {posting!r} is not {{h, i, id, op, r, t}}")
        if posting["op"] not in ("add", "supersede", "tombstone"):
            raise Invalid(f"{where}: posting op {posting['op']!r}")
        hash32(posting["h"], f"{where}: posting h")
        index, revision = count(posting["i"], "posting i"), count(posting["r"], "posting r")
        if index >= covers:
            raise Invalid(f"{where}: a posting of leaf {index}, past covers {covers}")
        if whole and index <= whole[-1]["i"]:
            raise Invalid(f"{where}: postings out of log order at leaf {index}")
        if revision < 1 or not isinstance(posting["id"], str) or not isinstance(posting["t"], str):
            raise Invalid(f"{where}: posting {posting!r}")
        whole.append(posting)
    return whole


def current(postings: list[dict[str, Any]], where: str) -> dict[str, dict[str, Any]]:
    """Per entry id, its last ``add``, unless a ``supersede`` or ``tombstone`` came after."""
    last_revision: dict[str, int] = {}
    state: dict[str, dict[str, Any]] = {}
    for posting in postings:
        entry_id, revision = posting["id"], posting["r"]
        if revision <= last_revision.get(entry_id, 0):
            raise Invalid(f"{where}: revisions of {entry_id} do not grow along its postings")
        last_revision[entry_id] = revision
        if posting["op"] == "add":
            state[entry_id] = posting
        elif state.pop(entry_id, None) is None:
            raise Invalid(f"{where}: a {posting['op']} of {entry_id}, not current under the key")
    return state


# --- client-side filters and order ---


def matches(served: Served, query: Mapping[str, str]) -> bool:
    """Every filter of the query, on the values the salts verify."""

    def value(path: str, name: str) -> Any:
        return seen(served, path, f"filter {name}")

    for name, path in (
        ("actor_id", "actor.id"),
        ("actor_type", "actor.type"),
        ("target_type", "target.type"),
        ("target_id", "target.id"),
        ("outcome", "outcome"),
    ):
        if name in query and value(path, name) != query[name]:
            return False
    if "action" in query:
        action, wanted = value("action", "action"), query["action"]
        if wanted.endswith("*"):
            if not isinstance(action, str) or not action.startswith(wanted[:-1]):
                return False
        elif action != wanted:
            return False
    if "tag" in query and query["tag"] not in (value("tags", "tag") or []):
        return False
    occurred = instant(value("occurred_at", "since/until"))
    if "since" in query and occurred < instant(query["since"]):
        return False
    return not ("until" in query and occurred > instant(query["until"]))


# --- "Verifying a walk" and "Verifying an answer" ---


@dataclass
class PostingLog:
    """One bucket of the plan, as the walk has read it: the size and root page 1's map
    proof gives, and its postings so far (``[0, at)``), made whole."""

    bucket: Bucket
    size: int
    root: bytes
    postings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def at(self) -> int:
        return len(self.postings)

    @property
    def where(self) -> str:
        return f"bucket {self.bucket.kind} {self.bucket.value!r} {self.bucket.bucket}"


def verify_query_proof(body: Any, vkey: str, query: Mapping[str, str]) -> list[str]:
    """The ids of the entries that answer ``query``, verified, in the query's order,
    from an answer of one page."""
    return verify_query_pages([body], vkey, query)


def verify_query_pages(pages: Sequence[Any], vkey: str, query: Mapping[str, str]) -> list[str]:
    """The ids of the entries that answer ``query``, verified, in the query's order,
    from every page of one walk, page 1 first."""
    for name in query:
        if name not in (*FILTERS, "sort"):
            raise Invalid(f"{name!r} is not a filter this verifier knows")
    sort = query.get("sort", "-occurred_at")
    if sort not in ("-occurred_at", "occurred_at"):
        raise Invalid(f"sort {sort!r}")
    if not pages or not all(isinstance(page, dict) for page in pages):
        raise Invalid("the answer is not a list of page objects")
    first = pages[0]

    # 1. The checkpoint's signature (a consistency proof to a kept checkpoint is the
    #    caller's, with independent_verifier.verify_consistency).
    origin, tree_size, tree_root = verify_checkpoint(first["checkpoint"], vkey)
    if first["tree_size"] != tree_size:
        raise Invalid(f"tree_size {first['tree_size']} is not the checkpoint's {tree_size}")
    tenant = origin.rsplit("/", 1)[-1]

    # 2. The index leaf: in the signed tree, of this tenant, at or after covers,
    #    committing the index key given.
    index = first["index"]
    leaf, leaf_index = index["leaf"], count(index["leaf_index"], "index leaf_index")
    if not isinstance(leaf, dict) or set(leaf) != INDEX_LEAF_FIELDS:
        raise Invalid(f"the index leaf {leaf!r} is not {sorted(INDEX_LEAF_FIELDS)}")
    if leaf["v"] != 1 or leaf["kind"] != "index" or leaf["tenant"] != tenant:
        raise Invalid(f"leaf {leaf_index} is not an index leaf of tenant {tenant!r}")
    covers = count(leaf["covers"], "covers")
    if first["covers"] != covers:
        raise Invalid(f"covers {first['covers']} is not the index leaf's {covers}")
    if leaf_index < covers:
        raise Invalid(f"the index leaf sits at {leaf_index}, before covers {covers}")
    inclusion = [b64d(h) for h in index["inclusion"]]
    verify_inclusion(leaf_index, tree_size, leaf_hash(jcs(leaf)), inclusion, tree_root)
    index_key = b64d(index["key"])
    commitment = hashlib.sha256(INDEX_KEY_DOMAIN + b"\x00" + index_key).digest()
    if hash32(leaf["key"], "the index leaf's key") != commitment:
        raise Invalid("the index key given is not the one the index leaf commits")
    map_root = hash32(leaf["map_root"], "map_root")

    # Walk 1. Page 1's buckets are the plan's, in its order, each with its map proof,
    #    which gives the bucket's (size, root).
    expected = plan(query)
    given = [Bucket(b["kind"], b["value"], b["bucket"]) for b in first["buckets"]]
    if given != expected:
        raise Invalid(f"the answer's buckets {given} are not the plan's {expected}")
    logs: list[PostingLog] = []
    for bucket, part in zip(expected, first["buckets"], strict=True):
        if "map" not in part:
            raise Invalid(f"bucket {bucket}: page 1 gives no map proof of it")
        size, root = verify_map_proof(map_key(index_key, bucket), part["map"], map_root)
        logs.append(PostingLog(bucket, size, root))
    place = {log.bucket: n for n, log in enumerate(logs)}

    served: dict[str, Served] = {}
    for number, page in enumerate(pages, start=1):
        name = f"page {number}"
        # Walk 2. Every later page is pinned where page 1 is.
        for pinned in PIN:
            if page.get(pinned) != first[pinned]:
                raise Invalid(f"{name}: its {pinned} is not page 1's: the walk's pin moved")
        on_page: dict[str, Served] = {}
        for item in page["entries"]:
            rebuilt = rebuild(item, tenant)
            entry_id = rebuilt.entry["id"]
            if entry_id in served or entry_id in on_page:
                raise Invalid(f"{name}: entry {entry_id} is served twice")
            on_page[entry_id] = rebuilt
        served.update(on_page)

        # Walk 3. Each part continues the walk, in the plan's order.
        progress = 0
        for part in page["buckets"]:
            bucket = Bucket(part["kind"], part["value"], part["bucket"])
            if bucket not in place:
                raise Invalid(f"{name}: {bucket} is not a bucket of the plan")
            log = logs[place[bucket]]
            where = f"{name}: {log.where}"
            start, end = count(part["start"], "start"), count(part["end"], "end")
            if start != log.at:
                raise Invalid(
                    f"{where}: postings [{start}, {end}) where the walk is at {log.at}: "
                    "a range skipped, repeated or overlapping"
                )
            if end < start or end > log.size:
                raise Invalid(f"{where}: [{start}, {end}) of a posting log of {log.size}")
            if end > start and any(e.at != e.size for e in logs[: place[bucket]]):
                raise Invalid(f"{where}: postings before an earlier bucket of the plan is whole")
            postings = whole_postings(part["postings"], covers, on_page, where)
            if len(postings) != end - start:
                raise Invalid(f"{where}: {len(postings)} postings given for [{start}, {end})")
            if postings and log.postings and postings[0]["i"] <= log.postings[-1]["i"]:
                raise Invalid(f"{where}: postings out of log order at leaf {postings[0]['i']}")
            log.postings.extend(postings)
            progress += len(postings)
            if end == log.size and mth([leaf_hash(jcs(p)) for p in log.postings]) != log.root:
                short = sorted(
                    {p["id"] for part in _parts_of(pages, bucket) for p in part if "h" not in p}
                )
                raise Invalid(
                    f"{where}: the postings do not rebuild the posting log's root: a posting "
                    f"was changed or left out, or a forged entry among {short} (whose h and t "
                    "come from the entry as served)"
                )

        # Walk 4. Follow next_cursor to the last page; a page that names a next one
        #    gives postings.
        next_cursor, last = page.get("next_cursor"), number == len(pages)
        if next_cursor is not None and progress == 0:
            raise Invalid(f"{name}: names a next page but gives no postings")
        if last and next_cursor is not None:
            raise Invalid(f"{name} names a next page, which the walk lacks: it is cut short")
        if not last and next_cursor is None:
            raise Invalid(f"{name} says it is the last, yet pages follow it")
    for log in logs:
        if log.at != log.size:
            raise Invalid(
                f"{log.where}: the walk ends at {log.at} of its {log.size} postings: cut short"
            )

    # 4. The entries each posting log leaves current: served, as committed, under it.
    proven: set[str] = set()
    for log in logs:
        where, bucket = log.where, log.bucket
        for entry_id, posting in current(log.postings, where).items():
            item = served.get(entry_id)
            if item is None:
                raise Invalid(f"{where}: missing entry {entry_id} (revision {posting['r']})")
            if item.entry["revision"] != posting["r"]:
                raise Invalid(
                    f"{where}: stale entry {entry_id}: served at revision "
                    f"{item.entry['revision']}, current is {posting['r']}"
                )
            if b64encode(item.leaf_hash) != posting["h"]:
                raise Invalid(f"{where}: forged entry {entry_id}: its leaf is not the posting's")
            if item.entry["occurred_at"] != posting["t"]:
                raise Invalid(f"{where}: forged entry {entry_id}: occurred_at is not the posting's")
            if not belongs(item, bucket):
                raise Invalid(f"{where}: forged entry {entry_id}: it does not belong under it")
            proven.add(entry_id)
    extra = sorted(set(served) - proven)
    if extra:
        raise Invalid(f"extra entries {extra}: no posting leaves them current")

    # 5. Every filter of the query, then the query's order (ties: by id, the same way).
    answer = [served[entry_id] for entry_id in proven if matches(served[entry_id], query)]
    answer.sort(
        key=lambda s: (instant(s.entry["occurred_at"]), s.entry["id"]),
        reverse=sort == "-occurred_at",
    )
    return [s.entry["id"] for s in answer]


def _parts_of(pages: Sequence[Any], bucket: Bucket) -> list[list[Any]]:
    """The postings, as given, of every part of ``bucket`` in the walk."""
    return [
        part["postings"]
        for page in pages
        for part in page["buckets"]
        if Bucket(part["kind"], part["value"], part["bucket"]) == bucket
    ]
