"""Password hashing with Argon2id (argon2-cffi); the cost comes from settings.

At most ``password_hashing_concurrency`` computations run at once in a process (default: half the
cores, at least 1, at most 4; the other cores stay for the pages), each taking
``password_memory_cost`` KiB: at the production cost (64 MiB) at most 4 × 64 MiB = 256 MiB, on 2
cores 1 × 64 MiB. A caller waits at most ``WAIT_SECONDS`` for its turn, then
``PasswordHashingBusy`` (503 in Italian). The API's requests wait for their turn on the event loop
first (``api.login_limits.PasswordTurns``, at most ``password_wait_seconds``, 3 s), so a waiting
login holds no thread, no database connection and no in-flight slot.

Measured with ``bench/login_load.py`` (2 cores shared with other sessions' work, load average 8-34;
production costs, demonstration data; three waves of 60 concurrent failed logins from 60 addresses;
the public page read every 100 ms meanwhile), in interleaved runs:

- before (no bound, every login hashing at once): public page p50 273-315 ms, p95 16.7-21.2 s,
  max 18.7-26.5 s; API RSS peak 1,112 MiB; each login answered 401 after 11-14 s (p50).
- after, 1 at once (the default on 2 cores): public page p50 7-16 ms, p95 16-58 ms, max 24-249 ms
  (idle: p50 6-10 ms); API RSS peak 206-207 MiB; 30-85 of the 180 logins checked (401), the others
  told 503 after the 3 s wait.
- 2 at once: public page p95 27-29 ms, RSS 271 MiB, 92-96 checked: not worth it on 2 cores.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from models.errors import DomainError
from registro.settings import get_settings

WAIT_SECONDS = 10.0


class PasswordHashingBusy(DomainError):
    status_code = 503
    code = "servizio_non_disponibile"


@lru_cache
def _hasher() -> PasswordHasher:
    settings = get_settings()
    return PasswordHasher(time_cost=settings.password_time_cost, memory_cost=settings.password_memory_cost)


@lru_cache
def _computing() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(get_settings().password_hashing_concurrency)


def hashing_concurrency() -> int:
    return get_settings().password_hashing_concurrency


@contextmanager
def _turn(wait: float = WAIT_SECONDS) -> Iterator[None]:
    computing = _computing()
    if not computing.acquire(timeout=wait):
        raise PasswordHashingBusy("troppi controlli di password in corso: riprovare tra qualche secondo")
    try:
        yield
    finally:
        computing.release()


def hash_password(password: str) -> str:
    with _turn():
        return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    with _turn():
        try:
            return _hasher().verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
