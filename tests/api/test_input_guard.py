"""The body guard: a body read whole, in time, before the app (and its in-flight slot) sees the request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.types import Message, Receive, Scope, Send

from api.inflight import InFlightLimit
from api.input_guard import IDLE_SECONDS, IN_MEMORY, MIN_RATE, PER_CLIENT_HELD, BodyGuard, body_due

MB = 1024 * 1024


def scope(body_headers: list[tuple[bytes, bytes]], path: str = "/api/v1/x", address: str = "10.0.0.1") -> Scope:
    return {"type": "http", "method": "POST", "path": path, "headers": body_headers, "client": (address, 5000)}


def sized(length: int, kind: bytes = b"application/json") -> list[tuple[bytes, bytes]]:
    return [(b"content-length", str(length).encode()), (b"content-type", kind)]


CHUNKED = [(b"transfer-encoding", b"chunked"), (b"content-type", b"multipart/form-data; boundary=x")]


def client(chunks: list[bytes], pause: float = 0.0, stall: bool = False) -> Receive:
    """The client's side: ``chunks`` a ``pause`` apart, then (``stall``) nothing more, or a disconnect."""
    sent = 0

    async def receive() -> Message:
        nonlocal sent
        if sent < len(chunks):
            await asyncio.sleep(pause if sent else 0)
            sent += 1
            return {"type": "http.request", "body": chunks[sent - 1], "more_body": stall or sent < len(chunks)}
        await asyncio.sleep(3600 if stall else 0)
        return {"type": "http.disconnect"}

    return receive


class App:
    """Records what it received, then answers 200."""

    def __init__(self) -> None:
        self.body = b""
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        while True:
            message = await receive()
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def call(app: Callable[..., object], request: Scope, receive: Receive) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(request, receive, send))  # type: ignore[arg-type]
    return sent


def status(sent: list[Message]) -> int:
    return int(sent[0]["status"])


def test_the_time_rule() -> None:
    assert body_due(100.0, 0, 10) == 110.0  # a login: 10 s
    assert body_due(0.0, 20 * MB, 10) == 10 + 20 * MB / MIN_RATE == 2570.0  # 20 MB: 43 minutes


def test_a_slow_but_steady_body_arrives_whole() -> None:
    app = App()
    guard = BodyGuard(app, upload_limit=MB, grace=0.2, min_rate=1000)
    chunks = [b"a" * 100] * 10  # 2,000 bytes a second for 0.45 s, more than the grace
    assert status(call(guard, scope(sized(1000)), client(chunks, pause=0.05))) == 200
    assert app.body == b"a" * 1000


def test_a_stalled_body_gets_408_and_never_reaches_the_app() -> None:
    app = App()
    guard = BodyGuard(app, upload_limit=MB, grace=0.2)
    sent = call(guard, scope(sized(1000)), client([b"u"], stall=True))
    assert status(sent) == 408 and app.calls == 0
    assert b"tempo scaduto" in sent[1]["body"] and (b"connection", b"close") in sent[0]["headers"]
    page = call(guard, scope(CHUNKED, path="/accesso"), client([b"u"], stall=True))
    assert status(page) == 408 and b'lang="it"' in page[1]["body"] and b"Tempo scaduto" in page[1]["body"]


def test_sizes_declared_and_streamed() -> None:
    guard = BodyGuard(App(), upload_limit=MB, grace=5)
    assert b"il file supera" in call(guard, scope(CHUNKED), client([b"x" * (2 * MB)]))[1]["body"]
    guard = BodyGuard(App(), upload_limit=8 * MB, grace=5)
    declared = call(guard, scope(sized(5 * MB)), client([]))
    assert status(declared) == 413 and b"4 MB" in declared[1]["body"]  # JSON and forms: 4 MB
    assert b"richiesta_troppo_grande" in declared[1]["body"]
    streamed = call(guard, scope(CHUNKED), client([b"x" * (3 * MB)] * 3))
    assert status(streamed) == 413 and b"file_troppo_grande" in streamed[1]["body"]


def test_a_large_body_is_spooled_and_replayed_as_it_was() -> None:
    app = App()
    guard = BodyGuard(app, upload_limit=4 * MB, grace=5)
    chunks = [bytes([i]) * 100_000 for i in range(30)]  # 3 MB, past IN_MEMORY
    assert sum(map(len, chunks)) > IN_MEMORY
    assert status(call(guard, scope(CHUNKED), client(chunks))) == 200
    assert app.body == b"".join(chunks) and guard.held == 0


def test_nul_is_found_across_chunks() -> None:
    sent = call(BodyGuard(App(), upload_limit=MB, grace=5), scope(sized(12)), client([b'{"a": "\\u00', b'00"}']))
    assert status(sent) == 422 and "NUL" in sent[1]["body"].decode()


def test_bodies_held_at_once_are_bounded() -> None:
    guard = BodyGuard(App(), upload_limit=4 * MB, grace=5, held_limit=MB)

    async def both() -> list[list[Message]]:
        answers: list[list[Message]] = [[], []]

        async def one(index: int, chunks: list[bytes], pause: float) -> None:
            async def send(message: Message) -> None:
                answers[index].append(message)

            await guard(scope(CHUNKED), client(chunks, pause=pause), send)

        await asyncio.gather(one(0, [b"x" * 400_000] * 2, 0.3), one(1, [b"y" * 400_000] * 2, 0.01))
        return answers

    first, second = asyncio.run(both())
    assert (status(first), status(second)) == (503, 200) or (status(first), status(second)) == (200, 503)
    assert guard.held == 0


def test_a_stalled_body_holds_no_slot() -> None:
    guard = BodyGuard(InFlightLimit(App(), limit=1), upload_limit=MB, grace=1.0)

    async def both() -> tuple[list[Message], float]:
        stalled: list[Message] = []

        async def send_stalled(message: Message) -> None:
            stalled.append(message)

        waiting = asyncio.create_task(guard(scope(sized(1000)), client([b"u"], stall=True), send_stalled))
        await asyncio.sleep(0.05)
        answered: list[Message] = []

        async def send(message: Message) -> None:
            answered.append(message)

        started = asyncio.get_running_loop().time()
        await guard(scope(sized(2)), client([b"{}"]), send)
        elapsed = asyncio.get_running_loop().time() - started
        await waiting
        return answered, elapsed

    answered, elapsed = asyncio.run(both())
    assert status(answered) == 200 and elapsed < 0.5


def test_a_body_may_not_idle_even_when_its_average_rate_would_allow_it() -> None:
    assert body_due(0.0, 20 * MB, 10, last=100.0) == 100.0 + IDLE_SECONDS  # 20 MB sent fast, then silence
    assert body_due(0.0, 0, 10, last=None) == 10.0


def test_one_client_address_holds_only_its_share_of_the_room() -> None:
    """Two stalled 20 MB uploads from one address hold their share; a third from it is refused (429),
    another address's upload goes through."""
    headers = [(b"content-length", str(21 * MB).encode()), *CHUNKED[1:]]

    async def upload(guard: BodyGuard, address: str, stall: bool) -> int:
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        await guard(scope(headers, address=address), client([b"x" * MB] * 20, stall=stall), send)
        return int(sent[0]["status"])

    async def scenario() -> tuple[int, int]:
        guard = BodyGuard(App(), upload_limit=21 * MB, grace=10)
        stalled = [asyncio.create_task(upload(guard, "10.0.0.1", stall=True)) for _ in range(2)]
        await asyncio.sleep(0.3)  # both have sent their 20 MB and wait for the rest
        third = await asyncio.wait_for(upload(guard, "10.0.0.1", stall=False), 5)
        other = await asyncio.wait_for(upload(guard, "10.0.0.9", stall=False), 5)
        for task in stalled:
            task.cancel()
        await asyncio.gather(*stalled, return_exceptions=True)
        assert guard.held == 0 and guard.held_by == {}
        return third, other

    assert PER_CLIENT_HELD < 3 * 20 * MB
    assert asyncio.run(scenario()) == (429, 200)
