"""The database briefly unreachable: the app talks to PostgreSQL through a TCP proxy the test cuts and
restores. While cut, every request gets a clear 503 (JSON for the API, an Italian page for pages) and
nothing is half-written; once restored, the same app serves again without a restart."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlmodel import Session, func, select

from api.deps import get_dispatcher, get_now
from api.main import create_app
from models.application import Application
from models.profiles import RegionProfile
from registro import db
from registro.settings import get_settings
from tests.api_support import API, Clock, Dispatched, People, login, roster_rows, run_action_synchronously_for_tests

pytestmark = pytest.mark.skipif(
    not os.environ.get("REGISTRO_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="un database server da rendere irraggiungibile: PostgreSQL",
)


class CuttableProxy:
    """127.0.0.1:<port> → the database server; ``cut()`` drops every connection and refuses new ones."""

    def __init__(self, target: tuple[str, int] | str) -> None:  # (host, port), or a Unix socket's path
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.open = threading.Event()
        self.open.set()
        self.stopping = threading.Event()
        self.links: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, name="db-proxy", daemon=True).start()

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.open.is_set():
                client.close()  # the server is "down": connection refused at once
                continue
            if isinstance(self.target, str):
                server = socket.socket(socket.AF_UNIX)
                server.connect(self.target)
            else:
                server = socket.create_connection(self.target)
            with self.lock:
                self.links += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open.clear()
        with self.lock:
            links, self.links = self.links, []
        for link in links:
            with suppress(OSError):
                link.shutdown(socket.SHUT_RDWR)
            link.close()

    def restore(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.stopping.set()
        self.cut()
        self.listener.close()


@pytest.fixture
def proxied(people: People, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[CuttableProxy]:
    """Settings and engine pointed at the same database through the proxy (the test's data stays)."""
    url = make_url(get_settings().resolved_database_url)
    socket_dir = url.query.get("host")
    if isinstance(socket_dir, str) and socket_dir.startswith("/"):  # a server reached through its socket only
        [socket_path] = [p for p in Path(socket_dir).glob(".s.PGSQL.*") if p.suffix != ".lock"]
        proxy = CuttableProxy(str(socket_path))
        url = url.difference_update_query(["host"])
    else:
        proxy = CuttableProxy((url.host or "127.0.0.1", url.port or 5432))
    monkeypatch.setenv("REGISTRO_DATABASE_URL", url.set(host="127.0.0.1", port=proxy.port).render_as_string(False))
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    try:
        yield proxy
    finally:
        db.get_engine().dispose()
        proxy.close()
        monkeypatch.undo()
        get_settings.cache_clear()
        db.get_engine.cache_clear()


def _count(engine_session: Session) -> int:
    count = engine_session.exec(select(func.count()).select_from(Application)).one()
    engine_session.commit()
    return int(count)


def test_an_unreachable_database_gives_503_writes_nothing_and_service_resumes(
    proxied: CuttableProxy, people: People, profile: RegionProfile, clock: Clock, session: Session
) -> None:
    app = create_app()
    engine = db.get_engine()
    app.dependency_overrides[get_now] = lambda: clock.now
    app.dependency_overrides[get_dispatcher] = lambda: run_action_synchronously_for_tests(
        engine, profile, clock, Dispatched()
    )
    client = TestClient(app, raise_server_exceptions=False)
    rep = login(client, people.rep)
    first = client.post(f"{API}/applications", json={"programme_summary": "Prima"}, headers=rep)
    assert first.status_code == 201, first.text
    app_id = first.json()["id"]
    before = _count(session)

    proxied.cut()
    for _ in range(3):  # bounded: a few attempts while the database is away
        down = client.put(f"{API}/applications/{app_id}/roster", json={"rows": roster_rows()}, headers=rep)
        assert down.status_code == 503, down.text
        assert down.json()["code"] == "servizio_non_disponibile" and "riprovare" in down.json()["detail"]
    page = client.get("/registro")
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert "riprovare" in page.text and 'lang="it"' in page.text
    assert _count(session) == before  # read directly (not through the proxy): nothing written meanwhile

    proxied.restore()
    again = client.put(f"{API}/applications/{app_id}/roster", json={"rows": roster_rows()}, headers=rep)
    assert again.status_code == 200, again.text  # same app, same pool: no restart needed
    assert client.get(f"{API}/applications/{app_id}", headers=rep).json()["enterprises"] == 50
    assert _count(session) == before
