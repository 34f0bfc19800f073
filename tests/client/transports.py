"""Transports that wrap a target's, to make the service misbehave: answer some
requests themselves first (a 503 with Retry-After), or edit answers on the way back
(a forged proof). One class serves the sync and the async client."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

Answer = Callable[[httpx.Request], httpx.Response | None]
Edit = Callable[[httpx.Request, httpx.Response], httpx.Response]


def _keep(request: httpx.Request, response: httpx.Response) -> httpx.Response:
    return response


@dataclass
class Intercept(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """``answer``: a response of its own to a request, or None to pass it on;
    ``edit``: the service's response as the client will see it. ``seen`` records
    every request that reached the service."""

    sync: httpx.BaseTransport
    asynchronous: httpx.AsyncBaseTransport
    answer: Answer = lambda request: None
    edit: Edit = _keep
    seen: list[httpx.Request] = field(default_factory=list)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        mine = self.answer(request)
        if mine is not None:
            return mine
        self.seen.append(request)
        response = self.sync.handle_request(request)
        response.read()
        return self.edit(request, response)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        mine = self.answer(request)
        if mine is not None:
            return mine
        self.seen.append(request)
        response = await self.asynchronous.handle_async_request(request)
        await response.aread()
        return self.edit(request, response)


def unavailable_first(times: int, retry_after: str, path_end: str = "") -> Answer:
    """A 503 problem with ``retry_after`` for the first ``times`` requests whose path
    ends with ``path_end``."""
    left = [times]

    def answer(request: httpx.Request) -> httpx.Response | None:
        if left[0] <= 0 or not request.url.path.endswith(path_end):
            return None
        left[0] -= 1
        body = {"type": "about:blank#overloaded", "title": "Overloaded", "status": 503}
        body["detail"] = "try again"
        return httpx.Response(
            503,
            headers={"content-type": "application/problem+json", "retry-after": retry_after},
            content=json.dumps(body).encode(),
        )

    return answer


def lost_answer_first(
    sync: httpx.BaseTransport, asynchronous: httpx.AsyncBaseTransport
) -> Intercept:
    """The first request reaches the service, but its answer is lost (a 503 comes
    back instead): the client must retry, and the service must not do it twice."""
    lost = [False]

    def edit(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if lost[0]:
            return response
        lost[0] = True
        return unavailable_first(1, "0")(request) or response

    return Intercept(sync, asynchronous, edit=edit)


def edit_json(path_end: str, change: Callable[[dict[str, Any]], None]) -> Edit:
    """Edit the JSON body of answers to paths ending with ``path_end``."""

    def edit(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if not request.url.path.endswith(path_end) or response.status_code != 200:
            return response
        body = response.json()
        change(body)
        headers = {k: v for k, v in response.headers.items() if k != "content-length"}
        return httpx.Response(200, headers=headers, content=json.dumps(body).encode())

    return edit
