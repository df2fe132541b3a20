"""A burst of requests larger than the worker threads: every one answered, none stalls on the pool."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import httpx
from fastapi import FastAPI

from api.inflight import InFlightLimit, inflight_limit
from tests.api_support import API, People, login
from tests.live_server import serve_in_thread

BURST = 60  # more than the 40 worker threads


def test_a_burst_beyond_the_worker_threads_is_served(app: FastAPI, people: People) -> None:
    with serve_in_thread(app) as url:
        with httpx.Client(base_url=url) as http:
            headers = login(http, people.official)  # type: ignore[arg-type]
        barrier = threading.Barrier(BURST)
        answers: list[int] = []

        def get() -> None:
            with httpx.Client(base_url=url, timeout=20) as http:
                barrier.wait(timeout=20)
                answers.append(http.get(f"{API}/applications", headers=headers).status_code)

        threads = [threading.Thread(target=get) for _ in range(BURST)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert Counter(answers) == {200: BURST}


def test_the_limit_stays_below_the_worker_threads() -> None:
    assert inflight_limit(15) == 15 and inflight_limit(30) == 30 and inflight_limit(100) == 32
    assert inflight_limit(0) == 1


def test_uploads_take_at_most_a_third_of_the_slots() -> None:
    inside: list[str] = []
    release = asyncio.Event()

    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        inside.append(scope["method"])
        await release.wait()

    limit = InFlightLimit(app, limit=6)  # type: ignore[arg-type]
    upload = {"type": "http", "method": "POST", "headers": [(b"content-type", b"multipart/form-data; boundary=x")]}
    page = {"type": "http", "method": "GET", "headers": []}

    async def burst() -> list[str]:
        tasks = [asyncio.create_task(limit(dict(upload), None, None)) for _ in range(6)]  # type: ignore[arg-type]
        tasks.append(asyncio.create_task(limit(dict(page), None, None)))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        seen = list(inside)
        release.set()
        await asyncio.gather(*tasks)
        return seen

    assert sorted(asyncio.run(burst())) == ["GET", "POST", "POST"]
    assert len(inside) == 7  # the others, in turn
