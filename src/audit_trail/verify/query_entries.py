"""The entries of a query proof's pages: each rebuilt into its leaf hash from what was
served (values, salts, digests, ``prev``), short postings made whole from them, and
each checked against the posting that makes it current (docs/query-proofs.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audit_trail.core.index.keys import IndexKey, revision_keys
from audit_trail.core.index.postings import Posting, is_short_posting, parse_posting, with_served
from audit_trail.core.integrity import leaf_hash
from audit_trail.core.integrity.fields import field_digest
from audit_trail.core.integrity.leaf import b64, leaf_bytes
from audit_trail.core.serialization import entry_from_json
from audit_trail.verify.evidence import rebuilt_leaf, rendered_fields
from audit_trail.verify.results import Failed, Failure, fail
from audit_trail.verify.service import ServiceError, decode_b64, decode_hash


def served_entries(body: Mapping[str, Any], failures: list[Failure]) -> dict[str, dict[str, Any]]:
    served = body.get("entries")
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(served, list):
        failures.append(Failure("entries", "not a list"))
        return out
    for item in served:
        entry = item.get("entry") if isinstance(item, dict) else None
        entry_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(entry_id, str) or entry_id in out:
            failures.append(Failure("entries", f"an item without an entry, or twice: {entry_id!r}"))
            continue
        out[entry_id] = item
    return out


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """A served entry's leaf hash as rebuilt from what was served, or why it cannot
    be."""

    revision: object
    occurred_at: object
    leaf_hash: bytes | None
    failure: Failure | None = None


def rebuilt_leaves(entries: Mapping[str, dict[str, Any]], tenant: str) -> dict[str, Rebuilt]:
    out: dict[str, Rebuilt] = {}
    for entry_id, item in entries.items():
        entry = item["entry"]
        try:
            digest = _rebuilt_hash(item, tenant, f"entry {entry_id}")
        except Failed as failed:
            out[entry_id] = Rebuilt(entry.get("revision"), None, None, failed.failure)
        else:
            out[entry_id] = Rebuilt(entry.get("revision"), entry.get("occurred_at"), digest)
    return out


def served_posting(item: object, rebuilt: Mapping[str, Rebuilt]) -> Posting:
    """A posting as served: whole, or short (an ``add`` of a revision ``entries``
    serves, whose ``h`` and ``t`` come from that revision)."""
    if not is_short_posting(item):
        return parse_posting(item)
    assert isinstance(item, dict)
    served = rebuilt.get(item["id"]) if isinstance(item["id"], str) else None
    subject, revision = f"entry {item['id']}", item["r"]
    if served is None:
        raise fail(subject, f"missing: revision {revision!r} is current")
    if served.revision != revision:
        older = isinstance(served.revision, int) and isinstance(revision, int)
        if older and served.revision < revision:
            stale = f"stale: revision {served.revision} served, {revision} is current"
            raise fail(subject, stale)
        raise fail(subject, f"forged: revision {served.revision!r} served, {revision!r} is current")
    if served.leaf_hash is None or not isinstance(served.occurred_at, str):
        assert served.failure is not None
        raise Failed(served.failure)
    return parse_posting(with_served(item, served.leaf_hash, served.occurred_at))


def _rebuilt_hash(item: dict[str, Any], tenant: str, subject: str) -> bytes:
    """The leaf hash of the served entry, rebuilt from it, its salts, digests and
    ``prev``."""
    entry = item["entry"]
    try:
        salts = {str(p): decode_b64(s, f"salt of {p}") for p, s in _dict(item, "salts").items()}
        digests = {
            str(p): decode_hash(d, f"digest of {p}") for p, d in _dict(item, "digests").items()
        }
        prev = item.get("prev")
        if prev is not None:
            decode_hash(prev, "prev")
        values = rendered_fields(entry)
        fields = {
            path: field_digest(path, salts[path], v) for path, v in values.items() if path in salts
        }
    except (ServiceError, KeyError, TypeError, ValueError) as exc:
        raise fail(subject, f"malformed: {exc}") from None
    unproven = sorted(p for p in values if p not in salts and p not in digests)
    if unproven:
        raise fail(subject, f"shows field(s) it gives no salt or digest for: {', '.join(unproven)}")
    rebuilt = rebuilt_leaf(entry, prev, {p: b64(d) for p, d in (digests | fields).items()})
    if entry.get("tenant") != tenant:
        raise fail(subject, f"of tenant {entry.get('tenant')!r}, not {tenant!r}")
    try:
        return leaf_hash(leaf_bytes(rebuilt))
    except (TypeError, ValueError) as exc:
        raise fail(subject, f"has no canonical form: {exc}") from None


def checked_entry(
    item: dict[str, Any], rebuilt: Rebuilt, posting: Posting, key: IndexKey, subject: str
) -> dict[str, Any]:
    """The served entry, once its rebuilt leaf hashes to its posting's and it belongs
    under the bucket that posting is in."""
    entry = item["entry"]
    if rebuilt.failure is not None:
        raise Failed(rebuilt.failure)
    if rebuilt.leaf_hash != posting.leaf_hash:
        if isinstance(entry.get("revision"), int) and entry["revision"] < posting.revision:
            raise fail(
                subject,
                f"stale: revision {entry['revision']} served, {posting.revision} is current",
            )
        raise fail(subject, f"forged: its leaf does not hash to revision {posting.revision}'s")
    if key not in revision_keys(entry_from_json(entry)):
        raise fail(subject, f"does not belong under bucket {key.kind.value} {key.bucket}")
    return entry  # type: ignore[no-any-return]


def _dict(item: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = item.get(name, {})
    if not isinstance(value, dict):
        raise TypeError(f"{name} is not an object")
    return value
