"""Refuses text carrying a NUL character before any route sees it.

PostgreSQL cannot store NUL in text and SQLite would keep it silently: both are wrong for a public
record, so a JSON or form body with NUL (``\\u0000`` in JSON, ``%00`` or a raw zero byte in a form)
gets a 422 with the reason, on every database. File uploads (multipart) are not inspected: binary
files legitimately contain zero bytes and are checked by content on their own (api/uploads.py).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MESSAGE = "il testo contiene un carattere nullo (NUL) non ammesso: nulla è stato salvato"
INSPECTED = (b"application/json", b"application/x-www-form-urlencoded")


def carries_nul(body: bytes, content_type: bytes) -> bool:
    if content_type.startswith(b"application/json"):
        return b"\\u0000" in body.lower() or b"\x00" in body
    return b"%00" in body or b"\x00" in body


class NulGuard:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit  # a body sent without its length (chunked) is bounded here too

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"").lower()
        if not content_type.startswith(INSPECTED):
            await self.app(scope, receive, send)
            return
        chunks, more, size = [], True, 0
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, send, 413, "la richiesta supera la dimensione massima consentita")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if carries_nul(body, content_type):
            await self._refuse(scope, send, 422, MESSAGE)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # then whatever comes next (a disconnect)

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send, status: int, message: str) -> None:
        if str(scope.get("path", "")).startswith("/api/"):
            code = "dati_non_validi" if status == 422 else "richiesta_troppo_grande"
            body = json.dumps({"detail": message, "code": code}).encode()
            kind = b"application/json"
        else:
            body = (
                '<!doctype html><html lang="it"><head><meta charset="utf-8"><title>Dati non validi</title></head>'
                f"<body><h1>Dati non validi</h1><p>{message[:1].upper()}{message[1:]}.</p>"
                "<p>Tornare alla pagina precedente e correggere il testo.</p></body></html>"
            ).encode()
            kind = b"text/html; charset=utf-8"
        headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
