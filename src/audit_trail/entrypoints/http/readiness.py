"""GET /ready: whether this process can serve, asked of what it depends on.

Each check (storage, the log signer, Redis when configured) runs concurrently
with its own timeout; the answer is 200 when every one answered in time, else a
503 problem naming each one that did not. GET /check-port asks nothing: liveness.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping

from audit_trail.entrypoints.http.messages import HttpResponse, json_response
from audit_trail.entrypoints.http.problems import NOT_READY, render_problem
from audit_trail.entrypoints.http.routes import Call

log = logging.getLogger(__name__)

# a probe returns (or its awaitable ends) when the dependency answered; raises if not
Probe = Callable[[], object | Awaitable[object]]
OK = "ok"


class Readiness:
    def __init__(self, probes: Mapping[str, Probe], *, timeout_seconds: float) -> None:
        self._probes = dict(probes)
        self._timeout = timeout_seconds

    async def checks(self) -> dict[str, str]:
        """Each probe's outcome: ``"ok"`` or why not, in the order given."""
        names = list(self._probes)
        outcomes = await asyncio.gather(*(self._check(name) for name in names))
        return dict(zip(names, outcomes, strict=True))

    async def ready(self, call: Call) -> HttpResponse:
        checks = await self.checks()
        down = [f"{name} {outcome}" for name, outcome in checks.items() if outcome != OK]
        if not down:
            return json_response(200, {"status": "ready", "checks": checks})
        return render_problem(NOT_READY, "; ".join(down), members={"checks": checks})

    async def _check(self, name: str) -> str:
        try:
            async with asyncio.timeout(self._timeout):
                answer = self._probes[name]()
                if inspect.isawaitable(answer):
                    await answer
        except TimeoutError:
            return f"did not answer within {self._timeout:g} s"
        except Exception as exc:
            log.warning("readiness: %s failed: %r", name, exc)
            return f"failed ({type(exc).__name__})"
        return OK
