"""An ASGI app served in-process on an event loop of its own, in a background thread,
as httpx transports: ``transport`` for ``httpx.Client``, ``async_transport`` for
``httpx.AsyncClient`` on any other loop. Each request is handed to the app's loop and
its whole answer read there (no streaming)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
Lifespan = Callable[[], AbstractAsyncContextManager[Any]]


class ThreadedApp:
    """Runs ``app``'s ``lifespan`` (its startup and shutdown) on the thread's loop
    between ``start()`` and ``stop()``."""

    def __init__(self, app: Any, lifespan: Lifespan) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._lifespan = lifespan
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # the future of the one task that holds the lifespan open
        self._life: concurrent.futures.Future[None] | None = None
        self._stopping: asyncio.Event | None = None
        self.transport = _SyncTransport(self)
        self.async_transport = _AsyncTransport(self)

    def start(self) -> ThreadedApp:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="asgi-app", daemon=True)
        self._thread.start()
        ready = threading.Event()
        life = self._life = self._submit(self._live(ready))
        while not ready.wait(0.01):
            if life.done():  # startup failed: raise why, after stopping the loop
                try:
                    life.result()
                finally:
                    self._end_loop()
        return self

    async def _live(self, ready: threading.Event) -> None:
        # one task enters and leaves the lifespan (anyio's cancel scopes insist)
        self._stopping = asyncio.Event()
        async with self._lifespan():
            ready.set()
            await self._stopping.wait()

    def stop(self) -> None:
        loop, stopping, life = self._loop, self._stopping, self._life
        if loop is None or stopping is None or life is None:
            return
        try:
            loop.call_soon_threadsafe(stopping.set)
            life.result()
        finally:
            self._end_loop()

    def _end_loop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        self._loop = self._thread = None
        self._stopping = None

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the app's loop; its result (from any other thread)."""
        return self._submit(coroutine).result()

    def _submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("the app is not running: start() it, or use it in a with block")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    async def forward(self, request: httpx.Request, body: bytes) -> httpx.Response:
        """``request`` to the app, on its loop; the answer, read whole."""
        inner = httpx.Request(request.method, request.url, headers=request.headers, content=body)
        response = await self._asgi.handle_async_request(inner)
        content = await response.aread()
        await response.aclose()
        return httpx.Response(response.status_code, headers=response.headers, content=content)


class _SyncTransport(httpx.BaseTransport):
    def __init__(self, app: ThreadedApp) -> None:
        self._app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._app.call(self._app.forward(request, request.read()))


class _AsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, app: ThreadedApp) -> None:
        self._app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response: httpx.Response = await asyncio.wrap_future(
            self._app._submit(self._app.forward(request, body))
        )
        return response
