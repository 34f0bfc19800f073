"""Micro-benchmark of the built-in plugins on a realistic 1000-entry batch.

Times, best of ``--repeat`` runs, (1) the pii plugin's redaction alone
(``PiiRedactor.redact``) and (2) the whole write path as a batch request runs it,
``PluggyEntryProcessor.prepare`` then ``redact_for_reader`` with the built-in plugins
(request_context, pii), and prints entries per second. No server, no storage.

    PYTHONPATH=src .venv/bin/python scripts/bench_pii.py [--entries 1000] [--repeat 7]

Point PYTHONPATH at another checkout's ``src`` to compare before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import string
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from audit_trail.core import Actor, Entry, Outcome, Principal, Target
from audit_trail.core.ports import RequestContext
from audit_trail.plugins.builtin.pii import PiiRedactor
from audit_trail.plugins.manager import build_plugin_manager
from audit_trail.plugins.processor import PluggyEntryProcessor

MOMENT = datetime(2026, 1, 1, tzinfo=UTC)
CONTEXT = RequestContext(
    client_ip="10.1.2.3",
    headers={"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"},
)
READER = Principal("reader", "acme", frozenset({"audit:read", "audit:write"}))
ACTIONS = ("document.update", "user.login", "invoice.pay", "config.change", "user.invite")
NAMES = ("Ada Lovelace", "Grace Hopper", "svc-billing", "Alan Turing", None)


def _word(rng: random.Random, size: int) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=size))


def _pii(rng: random.Random) -> str:
    """One piece of personal data or a secret, as clients leak them."""
    kind = rng.randrange(5)
    if kind == 0:
        return f"{_word(rng, 6)}.{_word(rng, 5)}@example.com"
    if kind == 1:
        return "4242 4242 4242 4242"
    if kind == 2:
        return "DE89 3704 0044 0532 0130 00"
    if kind == 3:
        return "Bearer " + "".join(rng.choices(string.ascii_letters + string.digits, k=32))
    return f"password={_word(rng, 10)}"


def make_entry(rng: random.Random, number: int) -> Entry:
    """An entry like a busy service sends: ids, counters, timestamps and free text in
    metadata, one in ten with personal data somewhere."""
    leaky = rng.random() < 0.1
    metadata: dict[str, Any] = {
        "request_id": f"req-{rng.getrandbits(64):016x}",
        "field": rng.choice(("title", "status", "owner", "due_date")),
        "old": f"Q{rng.randrange(1, 5)} report",
        "new": f"Q{rng.randrange(1, 5)} report, draft {rng.randrange(100)}",
        "count": rng.randrange(1000),
        "at": f"2026-01-{rng.randrange(1, 29):02d}T10:{rng.randrange(60):02d}:00Z",
        "client": {"version": f"{rng.randrange(9)}.{rng.randrange(20)}.{rng.randrange(9)}"},
        "comment": " ".join(_word(rng, rng.randrange(2, 9)) for _ in range(rng.randrange(3, 12))),
        "items": [f"sku-{rng.randrange(10**6)}" for _ in range(rng.randrange(4))],
    }
    if leaky:
        metadata["comment"] += " " + _pii(rng)
    return Entry(
        id=f"01JD{number:022d}",
        tenant="acme",
        action=rng.choice(ACTIONS),
        outcome=Outcome.SUCCESS,
        actor=Actor(id=f"u-{rng.randrange(10**5)}", type="user", name=rng.choice(NAMES)),
        target=Target(type="document", id=f"d-{rng.randrange(10**6)}", name="Q3 report"),
        occurred_at=MOMENT,
        recorded_at=MOMENT,
        tags=("ui", f"team-{rng.randrange(10)}"),
        metadata=metadata,
    )


def best(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(20260101)  # noqa: S311 -- repeatable test data, not secrets
    batch = [make_entry(rng, n) for n in range(args.entries)]

    redactor = PiiRedactor()
    redact = best(lambda: [redactor.redact(entry) for entry in batch], args.repeat)

    processor = PluggyEntryProcessor(build_plugin_manager(["-deploy_label"]))

    async def write_path() -> None:
        for entry in batch:
            prepared = await processor.prepare(entry, CONTEXT)
            await processor.redact_for_reader(prepared, READER)

    prepare = best(lambda: asyncio.run(write_path()), args.repeat)
    print(f"{args.entries} entries, best of {args.repeat}")
    print(f"pii redact only        {args.entries / redact:>10,.0f} entries/s")
    print(f"prepare + for_reader   {args.entries / prepare:>10,.0f} entries/s")


if __name__ == "__main__":
    main()
