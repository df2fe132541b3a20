"""Browser tests: the real app served by uvicorn on 127.0.0.1, driven by Debian's Chromium through Playwright.

Fixtures: ``live_server`` (per test; ``.url``, ``.clock``, ``.settle()``), ``browser`` (one Chromium for the
package) and ``page`` (a new context per test: 1280x900, it-IT). Helpers: ``shot``, ``login``, ``logout``,
``unlabelled_fields``, ``run_in_thread`` (Prefect flows and ``asyncio.run`` while Playwright holds the main
thread's event loop). Screenshots go to ``test-artifacts/screenshots/`` (the CI artifacts); a failing test
leaves ``FAILED-<test>.png`` there too.

Without /usr/bin/chromium the tests are skipped on a workstation and fail in CI (env ``CI`` set).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.application import StageAction
from models.enums import ActionStatus
from models.people import User
from tests.api_support import Clock
from tests.factories import PASSWORD
from tests.live_server import serve_in_thread

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_S = 15.0  # every wait of these tests: page loads, selectors, flows, server start and stop
TIMEOUT_MS = TIMEOUT_S * 1000
REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
T = TypeVar("T")


# ---- the live server ---------------------------------------------------------------------


@dataclass
class LiveServer:
    """The app served on ``url``; ``clock`` is what its ``get_now`` answers (``clock.advance(days=…)``)."""

    url: str
    clock: Clock
    engine: Engine

    def settle(self, timeout: float = TIMEOUT_S) -> None:
        """Waits until the stage flows started by the pages have finished (no action queued or running)."""
        from flows.dispatch import running

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if running() == 0 and self._pending_actions() == 0:
                return
            time.sleep(0.05)
        raise AssertionError(f"stage flows still running after {timeout:.0f} s")

    def _pending_actions(self) -> int:
        pending = (ActionStatus.QUEUED, ActionStatus.RUNNING)
        with Session(self.engine) as session:
            count = session.exec(select(func.count()).where(col(StageAction.status).in_(pending))).one()
            session.commit()
        return int(count)


@pytest.fixture
def live_server(clean_db: Engine, clock: Clock, prefect_harness: None) -> Iterator[LiveServer]:
    """The real app (``create_app()``) served by uvicorn in a thread on 127.0.0.1 and a free port.

    Stage flows: the REAL ones. No dispatcher override, so an action posted by a page goes through
    ``flows.dispatch.dispatch`` and runs its Prefect stage flow in-process (its own event loop thread)
    against the session's temporary Prefect server (``prefect_harness``). Pages answer before the flow
    ends: call ``live_server.settle()`` before looking for its outcome (or reload until it shows).

    Clock: ``api.deps.get_now`` answers ``clock.now`` (the test's ``clock`` fixture, pinned at the
    ``now`` fixture), so ``live_server.clock.advance(days=…)`` moves the server's time; the stage flows
    date their work at the action's ``requested_at``, which is that clock too. Data set up through the
    ``client``/``auth`` fixtures (synchronous stand-in, tests/api_support.py) shares the same clock and
    database.

    One server per test (well under a second to start): a fresh login throttle and clock each time.
    The session keeps its objects after a commit (``expire_on_commit=False``): to see a row the server
    changed, read a column (``select(Application.state)``) or use
    ``execution_options(populate_existing=True)`` — ``session.expire_all()``/``refresh`` would reload
    ``people.*`` lazily.
    """
    from api.deps import get_now
    from api.main import create_app

    app = create_app()
    app.dependency_overrides[get_now] = lambda: clock.now
    with serve_in_thread(app, TIMEOUT_S, name="uvicorn-browser") as url:
        yield LiveServer(url=url, clock=clock, engine=clean_db)


# ---- the browser ---------------------------------------------------------------------------


def require_chromium() -> None:
    """Skips without Chromium on a workstation; in CI (env ``CI`` set) fails instead."""
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} missing: install Debian's chromium (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Checked before any fixture: no Prefect harness or live server started for a test that will skip."""
    if "browser" in getattr(item, "fixturenames", ()):
        require_chromium()


@pytest.fixture(scope="package")
def playwright_driver(prefect_harness: None) -> Iterator[Playwright]:
    """Playwright's sync API, for this package only: while it lives, the main thread has a running
    asyncio loop (Playwright's), so ``asyncio.run`` and Prefect's sync flow calls fail there — use
    ``run_in_thread`` for those. Package scope: the loop is gone before tests/e2e, tests/flows… run.
    The Prefect harness starts first, outside that loop.
    """
    require_chromium()
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """One headless Chromium (Debian's, not a Playwright download) for all the browser tests."""
    chromium = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS
    )
    yield chromium
    chromium.close()


CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[CALL_REPORT] = report
    return report


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A new context and tab per test (1280x900, it-IT, 15 s timeouts).

    The test fails if the page breaks the Content Security Policy or throws an uncaught script error.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="it-IT")
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            problems.append(f"CSP ({tab.url}): {message.text}")

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: problems.append(f"errore di script ({tab.url}): {error}"))
    failure_shot = f"FAILED-{request.node.name}"
    (SCREENSHOTS / f"{failure_shot}.png").unlink(missing_ok=True)  # a previous run's
    try:
        yield tab
        report = request.node.stash.get(CALL_REPORT, None)
        if report is not None and report.failed and not tab.is_closed():
            shot(tab, failure_shot)
    finally:
        context.close()
    if problems:
        pytest.fail("il browser ha segnalato:\n" + "\n".join(problems), pytrace=False)


# ---- helpers for the journeys -------------------------------------------------------------


def shot(page: Page, name: str) -> Path:
    """A full-page PNG screenshot saved as test-artifacts/screenshots/<name>.png (returns the path)."""
    safe = re.sub(r"[^\w.-]+", "_", name).strip("_") or "pagina"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{safe}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page: Page, base_url: str, user: User | str, password: str = PASSWORD) -> None:
    """Logs in through the /accesso form and waits for the landing page (fails if still on /accesso)."""
    username = user if isinstance(user, str) else user.username
    page.goto(f"{base_url}/accesso")
    page.get_by_label("Nome utente").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Accedi").click()
    page.wait_for_url(lambda url: urlparse(url).path != "/accesso", timeout=TIMEOUT_MS)


def logout(page: Page) -> None:
    """Presses «Esci» in the header and waits for the login page."""
    page.get_by_role("button", name="Esci").click()
    page.wait_for_url(lambda url: urlparse(url).path == "/accesso", timeout=TIMEOUT_MS)


def run_in_thread(fn: Callable[..., T], *args: Any, timeout: float = 2 * TIMEOUT_S, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a new thread, with no event loop running there; its result or its error.

    For what needs its own event loop while Playwright holds the main thread's: a Prefect flow called
    directly (``run_in_thread(annual_report_cycle, as_of=day)``), ``asyncio.run(...)``.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = fn(*args, **kwargs)
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=target, name=f"browser-test-{getattr(fn, '__name__', 'call')}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise AssertionError(f"{getattr(fn, '__name__', fn)} did not finish in {timeout:.0f} s")
    if "error" in outcome:
        raise outcome["error"]
    result: T = outcome["result"]
    return result


UNLABELLED_FIELDS_JS = """
() => Array.from(document.querySelectorAll("input, select, textarea"))
  .filter((el) => !["hidden", "submit", "button", "reset", "image"].includes((el.type || "").toLowerCase()))
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
                  && !el.getAttribute("aria-labelledby") && !el.closest("label"))
  .map((el) => el.outerHTML.slice(0, 160))
"""


def unlabelled_fields(page: Page) -> list[str]:
    """The visible-kind form fields of the page without a label (``[]`` is the goal)."""
    result: list[str] = page.evaluate(UNLABELLED_FIELDS_JS)
    return result
