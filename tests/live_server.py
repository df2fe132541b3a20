"""An app served by uvicorn in a thread on 127.0.0.1 (a free port bound first: no race for it)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI


@contextmanager
def serve_in_thread(app: FastAPI, timeout: float = 15.0, name: str = "uvicorn-test") -> Iterator[str]:
    """Yields the base URL while ``app`` is served; stops it (graceful, then forced) afterwards."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not server.started:
            raise RuntimeError(f"the live server did not start in {timeout:.0f} s")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True  # the lifespan's shutdown drains the flows still running
        thread.join(timeout=timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)
        sock.close()
    if thread.is_alive():
        raise RuntimeError(f"the live server did not stop in {timeout + 5:.0f} s")
