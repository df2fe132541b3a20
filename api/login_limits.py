"""Limits on password checks: who may try (``LoginThrottle``) and how many wait or run at once
(``PasswordTurns``). Both live in the API process's memory: several API processes behind a balancer
count separately (a rate limit at the proxy too, see the README's production section).

``LoginThrottle`` counts failed password checks in the last ``WINDOW`` (15 minutes):

- per username and client address: after 5, that address is refused for that username until the
  oldest of them is 15 minutes old (429 with ``Retry-After``). It locks out the attacker's address
  only: the owner, from anywhere else, logs in at once.
- per address, across usernames: after 30, the address is refused for every username (one address
  spraying a password over many usernames). An address is an IPv4 address or an IPv6 /64 network,
  what a single client gets.
- per username, across addresses (a distributed attacker): 20 failures make the username "under
  attack", and while it is every address has 2 attempts per window on it instead of 5. A slowdown
  that never becomes a lockout: an address that has not failed twice is always checked, so the owner
  typing the right password gets in at the first attempt, from any address; an attacker with A
  addresses gets 2·A guesses every 15 minutes instead of 5·A.

An attempt counts as a failure from the moment it begins (concurrent attempts cannot overtake a
limit) until it succeeds. A success clears its (username, address) record, never the address's or
the username's: an attacker with an account of their own cannot reset their address by logging in.
The caller passes the time (``now``).

Memory: at most ``MAX_KEYS`` (10,000) records of each kind, the least recently failed dropped first.
At the bound the three hold 7.6 MiB with one failure each (60,000 distinct usernames and addresses,
as ``tests/security/test_login_throttling.py`` sends), 13 MiB with every record full; the counter
this replaced kept every (username, address) forever: 59 MiB after those 60,000 and growing.
Pushing a record out takes 10,000 failures of other records within the window, so at least 334
addresses: an attacker with that many already gets more guesses from the per-address allowances
than from being forgotten.

``PasswordTurns``: at most ``limit`` requests at once check or hash a password (the Argon2 bound of
``registro.passwords``); the others wait on the event loop, holding no worker thread, no database
connection and no in-flight slot (``api.inflight``), at most ``wait_seconds``, then 503 in Italian.
At most ``per_address`` requests of one address wait or run at once (more: 429), so one client
cannot fill the line. Figures in ``registro.passwords``.
"""

from __future__ import annotations

import ipaddress
import math
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
from starlette.requests import Request

from api.errors import TooManyAttempts, Unavailable
from api.inflight import outside_inflight_limit

WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5  # per username and address
MAX_ADDRESS_FAILURES = 30  # per address, across usernames
UNDER_ATTACK_FAILURES = 20  # per username, across addresses: then ...
UNDER_ATTACK_PER_ADDRESS = 2  # ... each address has this many attempts on it
MAX_KEYS = 10_000


def client_address(request: Request) -> str:
    """The socket's peer, or what a trusted proxy forwarded (uvicorn's ``--forwarded-allow-ips``)."""
    return request.client.host if request.client else "-"


def network_of(address: str) -> str:
    """What one client controls: its IPv4 address, or the /64 of an IPv6 address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


class _Failures:
    """Times of the recent failures per key: at most ``keep`` each, at most ``max_keys`` keys."""

    def __init__(self, keep: int, window: float, max_keys: int) -> None:
        self.keep = keep
        self.window = window
        self.max_keys = max_keys
        self._times: OrderedDict[Hashable, list[float]] = OrderedDict()

    def recent(self, key: Hashable, now: float) -> list[float]:
        times = self._times.get(key)
        if not times:
            return []
        while times and now - times[0] >= self.window:
            del times[0]
        if not times:
            del self._times[key]
        return times

    def wait(self, key: Hashable, now: float, limit: int) -> float:
        """Seconds until fewer than ``limit`` failures of ``key`` are recent (0: not refused)."""
        times = self.recent(key, now)
        return times[-limit] + self.window - now if len(times) >= limit else 0.0

    def add(self, key: Hashable, now: float) -> None:
        times = self._times.get(key)
        if times is None:
            times = self._times[key] = []
        else:
            self._times.move_to_end(key)
        times.append(now)
        if len(times) > self.keep:
            del times[0]
        while len(self._times) > self.max_keys:
            self._times.popitem(last=False)

    def discard(self, key: Hashable, when: float) -> None:
        times = self._times.get(key)
        if times and when in times:
            times.remove(when)

    def clear(self, key: Hashable) -> None:
        self._times.pop(key, None)


@dataclass(frozen=True)
class Attempt:
    username: str
    network: str
    at: float


def _refused(where: str, seconds: float) -> TooManyAttempts:
    minutes = max(1, math.ceil(seconds / 60))
    retry = str(max(1, math.ceil(seconds)))
    when = "1 minuto" if minutes == 1 else f"{minutes} minuti"
    return TooManyAttempts(
        f"troppi tentativi di accesso non riusciti {where}: riprovare tra {when}",
        retry_after_seconds=int(retry),
        headers={"Retry-After": retry},
    )


class LoginThrottle:
    def __init__(self, window: timedelta = WINDOW, max_keys: int = MAX_KEYS) -> None:
        seconds = window.total_seconds()
        self._pairs = _Failures(MAX_FAILURES, seconds, max_keys)
        self._networks = _Failures(MAX_ADDRESS_FAILURES, seconds, max_keys)
        self._usernames = _Failures(UNDER_ATTACK_FAILURES, seconds, max_keys)
        self._lock = threading.Lock()

    def begin(self, username: str, address: str, now: datetime) -> Attempt:
        """Refuses the attempt (``TooManyAttempts``) or counts it as a failure until ``succeeded``."""
        attempt = Attempt(username.strip().lower()[:200], network_of(address), now.timestamp())
        pair, at = (attempt.username, attempt.network), attempt.at
        with self._lock:
            wait = self._networks.wait(attempt.network, at, MAX_ADDRESS_FAILURES)
            if wait:
                raise _refused("da questo indirizzo", wait)
            under_attack = len(self._usernames.recent(attempt.username, at)) >= UNDER_ATTACK_FAILURES
            wait = self._pairs.wait(pair, at, UNDER_ATTACK_PER_ADDRESS if under_attack else MAX_FAILURES)
            if wait:
                raise _refused("con questo nome utente da questo indirizzo", wait)
            self._pairs.add(pair, at)
            self._networks.add(attempt.network, at)
            self._usernames.add(attempt.username, at)
        return attempt

    def succeeded(self, attempt: Attempt) -> None:
        with self._lock:
            self._pairs.clear((attempt.username, attempt.network))
            self._networks.discard(attempt.network, attempt.at)
            self._usernames.discard(attempt.username, attempt.at)

    def undo(self, attempt: Attempt) -> None:
        """The password was not checked (the service was busy): the attempt does not count."""
        with self._lock:
            self._pairs.discard((attempt.username, attempt.network), attempt.at)
            self._networks.discard(attempt.network, attempt.at)
            self._usernames.discard(attempt.username, attempt.at)


class PasswordTurns:
    def __init__(self, limit: int, wait_seconds: float, per_address: int) -> None:
        self.limit = limit
        self.wait_seconds = wait_seconds
        self.per_address = per_address
        self._turns: anyio.Semaphore | None = None  # created on the server's event loop
        self._by_address: dict[str, int] = {}  # touched on the event loop only

    @asynccontextmanager
    async def turn(self, request: Request) -> AsyncIterator[None]:
        if self._turns is None:
            self._turns = anyio.Semaphore(self.limit)
        network = network_of(client_address(request))
        if self._by_address.get(network, 0) >= self.per_address:
            raise TooManyAttempts(
                "troppe richieste di accesso contemporanee da questo indirizzo: riprovare tra qualche secondo",
                headers={"Retry-After": "2"},
            )
        self._by_address[network] = self._by_address.get(network, 0) + 1
        try:
            got_turn = False
            async with outside_inflight_limit(request):
                with anyio.move_on_after(self.wait_seconds):
                    await self._turns.acquire()
                    got_turn = True
            if not got_turn:
                raise Unavailable(
                    "troppi accessi in corso in questo momento: riprovare tra qualche secondo",
                    headers={"Retry-After": "5"},
                )
            try:
                yield
            finally:
                self._turns.release()
        finally:
            left = self._by_address.pop(network) - 1
            if left:
                self._by_address[network] = left
