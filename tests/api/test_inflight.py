"""A burst of requests larger than the worker threads: every one answered, none stalls on SQLite's lock."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
from fastapi import FastAPI

from api.inflight import inflight_limit
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
