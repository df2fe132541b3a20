"""Every request body is read here, whole and within a time limit, before the request takes one of the
app's in-flight slots (``api.inflight``); it is then handed to the app as it arrived.

Why: the slot used to be taken first and the body read by the route, with no time limit. Fifteen
connections sending the headers of a login and one byte of its body took every slot, and
``GET /registro`` timed out for as long as they stayed open (issue 15; ``bench/slow_requests.py``:
15 or 50 such requests, every ``GET /registro`` over 30 s; now 4-12 ms, and each gets 408 after 10 s).

The time limit: a body must arrive at ``MIN_RATE`` bytes a second on average, after a grace of
``grace`` seconds (``REGISTRO_BODY_GRACE_SECONDS``, 10 s): the next bytes are due by
``started + grace + received / MIN_RATE``, which bounds sized and chunked bodies alike. A login is
given 10 s; a 20 MB upload up to 43 minutes, which an uplink of 64 kbit/s (a weak mobile link;
rural ADSL sends 256-1024 kbit/s) meets. Past it: 408 with the reason in Italian, connection closed.

Also here, before the app sees anything:
- size: a declared ``Content-Length`` over the limit is refused at once (413), a body sent without
  one (chunked) as soon as it passes it. File uploads (multipart) may be ``upload_limit`` long, other
  bodies (JSON, forms) ``TEXT_LIMIT``: a roster of 10,000 enterprises is 1.5 MB of JSON, and JSON
  costs some 25 times its size once parsed;
- NUL: a JSON or form body carrying NUL (``\\u0000`` in JSON, ``%00`` or a raw zero byte) gets a 422:
  PostgreSQL cannot store it. File uploads are checked by content on their own (``api.uploads``);
- room: bodies larger than ``IN_MEMORY`` go to a temporary file, and all the bodies held at once
  (being received, or waiting for a slot) are at most ``held_limit`` bytes; past it, 503 until some
  are done. The slots used to bound this (15 × 20 MB); reading first, this does. One client address
  may hold at most ``PER_CLIENT_HELD`` of it (429 past it), and a body that sends nothing for
  ``IDLE_SECONDS`` is dropped (408): a tester's 13 stalled anonymous uploads of 20 MB, sent fast and
  then left idle (the average rate allowed them 42 minutes), had filled the room and every login and
  form got 503;
- parsing: JSON is parsed whole by the app, before any authentication, at some 25 times its size
  (measured: an anonymous 20 MB body of ``{}`` took the API from 140 to 737 MB; 4 MB, to 245 MB).
  So at most ``LARGE_TEXT_AT_ONCE`` JSON or form bodies over ``LARGE_TEXT`` are in the app at once;
  the others wait here, holding no slot.

Half-sent *headers* never reach the app: uvicorn holds such a connection open without a time limit
(measured: 1,000 of them open for over 60 s, ``GET /registro`` unaffected, 4 ms). They cost a file
descriptor each; the reverse proxy's header timeout closes them in production.
"""

from __future__ import annotations

import json
import tempfile
from typing import IO

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.text import digits

MIN_RATE = 8 * 1024  # bytes a second, on average, after the grace
IDLE_SECONDS = 30.0  # and never longer than this without a byte
PER_CLIENT_HELD = 48 * 1024 * 1024  # two 20 MB uploads at once from one client address, and some room
TEXT_LIMIT = 4 * 1024 * 1024
IN_MEMORY = 256 * 1024
HELD_LIMIT = 256 * 1024 * 1024
REPLAY_CHUNK = 64 * 1024
LARGE_TEXT = 1024 * 1024
LARGE_TEXT_AT_ONCE = 2
INSPECTED = (b"application/json", b"application/x-www-form-urlencoded")
NUL_MESSAGE = "il testo contiene un carattere nullo (NUL) non ammesso: nulla è stato salvato"
LATE_MESSAGE = (
    "tempo scaduto: la richiesta non è arrivata per intero in tempo (collegamento troppo lento o interrotto); "
    "nulla è stato salvato, riprovare"
)
BUSY_MESSAGE = "il servizio sta ricevendo troppi dati in questo momento: nulla è stato salvato, riprovare tra poco"
CLIENT_BUSY_MESSAGE = (
    "troppi invii contemporanei da questo indirizzo: nulla è stato salvato, attendere la fine degli altri e riprovare"
)
REFUSALS = {  # status: (code, page title, what to do)
    408: ("richiesta_scaduta", "Tempo scaduto", "Riprovare: se il file è grande, con un collegamento più veloce."),
    429: ("troppi_invii", "Troppi invii insieme", "Attendere che gli altri invii siano finiti e riprovare."),
    413: (
        "file_troppo_grande",
        "File troppo grande",
        "Tornare alla pagina precedente e scegliere un file più piccolo.",
    ),
    422: ("dati_non_validi", "Dati non validi", "Tornare alla pagina precedente e correggere il testo."),
    503: ("servizio_occupato", "Servizio occupato", "Riprovare tra qualche minuto."),
}


def carries_nul(body: bytes, content_type: bytes) -> bool:
    if content_type.startswith(b"application/json"):
        return b"\\u0000" in body.lower() or b"\x00" in body
    return b"%00" in body or b"\x00" in body


def body_due(started: float, received: int, grace: float, rate: float = MIN_RATE, last: float | None = None) -> float:
    """When the next bytes of a body must have arrived (the time on the clock of ``started``): at the
    average rate after the grace, and at most ``IDLE_SECONDS`` after the ``last`` bytes."""
    due = started + grace + received / rate
    return due if last is None else min(due, last + max(grace, IDLE_SECONDS))


class BodyGuard:
    def __init__(
        self, app: ASGIApp, upload_limit: int, grace: float, min_rate: float = MIN_RATE, held_limit: int = HELD_LIMIT
    ) -> None:
        self.app = app
        self.upload_limit = upload_limit
        self.grace = grace
        self.min_rate = min_rate
        self.held_limit = held_limit
        self.held = 0  # bytes of the bodies held now (one event loop: no lock needed)
        self.held_by: dict[str, int] = {}  # the same per client address
        self._large_text: anyio.Semaphore | None = None  # created on the server's event loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if not chunked and (length is None or length == b"0"):
            await self.app(scope, receive, send)  # no body
            return
        content_type = headers.get(b"content-type", b"").lower()
        upload = content_type.startswith(b"multipart/")
        limit = self.upload_limit if upload else min(self.upload_limit, TEXT_LIMIT)
        if length is not None and digits(length) and int(length) > limit:
            await self._refuse(scope, send, 413, _too_large(limit, upload))
            return
        body = _Body(scope["client"][0] if scope.get("client") else "-")
        try:
            if await self._read(scope, receive, send, body, limit, upload, content_type):
                body.file.seek(0)
                if upload or body.size <= LARGE_TEXT:
                    await self.app(scope, _replay(body, receive), send)
                    return
                if self._large_text is None:
                    self._large_text = anyio.Semaphore(LARGE_TEXT_AT_ONCE)
                async with self._large_text:
                    await self.app(scope, _replay(body, receive), send)
        finally:
            self.held -= body.size
            if body.size and (left := self.held_by.get(body.client, 0) - body.size) > 0:
                self.held_by[body.client] = left
            else:
                self.held_by.pop(body.client, None)
            body.file.close()

    async def _read(
        self, scope: Scope, receive: Receive, send: Send, body: _Body, limit: int, upload: bool, content_type: bytes
    ) -> bool:
        """Reads the body; False if it was refused (answered here) or abandoned by the client."""
        started, tail = anyio.current_time(), b""
        last: float | None = None
        inspect = content_type.startswith(INSPECTED)
        while True:
            message: Message | None = None
            due = body_due(started, body.size, self.grace, self.min_rate, last)
            with anyio.move_on_after(due - anyio.current_time()):
                message = await receive()
            if message is None:
                await self._refuse(scope, send, 408, LATE_MESSAGE)
                return False
            if message["type"] == "http.disconnect":
                return False
            chunk = message.get("body", b"")
            last = anyio.current_time() if chunk else last
            body.size += len(chunk)
            self.held += len(chunk)
            self.held_by[body.client] = self.held_by.get(body.client, 0) + len(chunk)
            if body.size > limit:
                await self._refuse(scope, send, 413, _too_large(limit, upload))
                return False
            if self.held_by[body.client] > PER_CLIENT_HELD:
                await self._refuse(scope, send, 429, CLIENT_BUSY_MESSAGE)
                return False
            if self.held > self.held_limit:
                await self._refuse(scope, send, 503, BUSY_MESSAGE)
                return False
            if inspect and carries_nul(tail + chunk, content_type):
                await self._refuse(scope, send, 422, NUL_MESSAGE)
                return False
            tail = chunk[-5:]
            body.file.write(chunk)
            if not message.get("more_body", False):
                return True

    async def _refuse(self, scope: Scope, send: Send, status: int, message: str) -> None:
        code, title, hint = REFUSALS[status]
        if status == 413 and not message.startswith("il file"):
            code = "richiesta_troppo_grande"
        if str(scope.get("path", "")).startswith("/api/"):
            body = json.dumps({"detail": message, "code": code}).encode()
            kind = b"application/json"
        else:
            body = (
                f'<!doctype html><html lang="it"><head><meta charset="utf-8"><title>{title}</title></head>'
                f"<body><h1>{title}</h1><p>{message[:1].upper()}{message[1:]}.</p><p>{hint}</p></body></html>"
            ).encode()
            kind = b"text/html; charset=utf-8"
        headers = [
            (b"content-type", kind),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),  # what is left of the body is not read
            (b"x-content-type-options", b"nosniff"),
            (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
        ]
        if status == 503:
            headers.append((b"retry-after", b"30"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _too_large(limit: int, upload: bool) -> str:
    if upload:
        return f"il file supera la dimensione massima consentita ({limit // (1024 * 1024)} MB)"
    return f"la richiesta supera la dimensione massima consentita ({limit // (1024 * 1024)} MB)"


class _Body:
    """A body as it arrives: in memory up to IN_MEMORY, then in a temporary file."""

    def __init__(self, client: str) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115 (closed by the guard)
        self.size = 0
        self.client = client  # its address, as uvicorn gives it (the proxy's forward only from trusted proxies)


def _replay(body: _Body, receive: Receive) -> Receive:
    """The body as the app would have received it, then what comes next (a disconnect)."""
    sent, done = 0, False

    async def replay() -> Message:
        nonlocal sent, done
        if done:
            return await receive()
        chunk = body.file.read(REPLAY_CHUNK)
        sent += len(chunk)
        done = sent >= body.size
        return {"type": "http.request", "body": chunk, "more_body": not done}

    return replay
