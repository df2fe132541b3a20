"""At most ``limit`` requests inside the app at once; the others wait their turn on the event loop.

Why: a sync route and its sync dependencies each take a worker thread (40 by default) in turn, and
between two of those steps a request keeps its database session and its connection. With more
requests in flight than worker threads, every thread can end up waiting for a connection while the
holders wait for a thread: all stall until the pool's 30 s timeout, then 503. Below the thread count,
a holder always finds a thread; the limit is the database pool's size, so no request ever waits for
a connection inside a thread either.
A request takes its slot once its body has arrived (``api.input_guard`` reads it first, within a time
limit): a client that sends its headers and then stalls holds no slot.

File uploads (multipart) take at most a third of the slots: a burst of them cannot take every slot
while their forms are parsed (measured, 50 hostile 4.4 MB spreadsheets sent at once: ``GET /registro``
stalled 7.9 s at the start of the burst when uploads could take every slot; 0.19-0.22 s at worst now).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

SCOPE_KEY = "registro.inflight_slots"
UPLOAD_SHARE = 3  # uploads take at most 1/UPLOAD_SHARE of the slots


class InFlightLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._slots: anyio.Semaphore | None = None  # created on the server's event loop
        self._uploads: anyio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._slots is None or self._uploads is None:
            self._slots = anyio.Semaphore(self.limit)
            self._uploads = anyio.Semaphore(max(1, self.limit // UPLOAD_SHARE))
        scope[SCOPE_KEY] = self._slots
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
        if not content_type.lower().startswith(b"multipart/"):
            async with self._slots:
                await self.app(scope, receive, send)
            return
        async with self._uploads, self._slots:
            await self.app(scope, receive, send)


@asynccontextmanager
async def outside_inflight_limit(request: Request) -> AsyncIterator[None]:
    """Gives the request's slot back while it only waits (holding no thread and no connection), and
    takes one again before it goes on."""
    slots: anyio.Semaphore | None = request.scope.get(SCOPE_KEY)
    if slots is None:
        yield
        return
    slots.release()
    try:
        yield
    finally:
        with anyio.CancelScope(shield=True):
            await slots.acquire()


def inflight_limit(pool_size: int, threads: int = 40) -> int:
    """The pool's connections, kept below the worker threads (a few spare for the holders' next step)."""
    return max(1, min(pool_size, threads - 8))
