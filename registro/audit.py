"""``registro audit-verify``: the audit chain of every application, checked and reported in Italian."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlmodel import Session

from models.audit_chain import ChainReport, verify


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def check(session: Session, echo: Callable[[str], None], *, progress_every: int = 100_000) -> int:
    """Prints the outcome; returns the exit code (0 intact, 1 at least one broken link)."""
    started = time.perf_counter()
    shown = 0

    def progress(events: int) -> None:
        nonlocal shown
        if events - shown >= progress_every:
            shown = events
            echo(f"… {events} eventi verificati")

    report: ChainReport = verify(session, progress=progress)
    checked = f"{_count(report.events, 'evento', 'eventi')}, {_count(report.applications, 'domanda', 'domande')}"
    elapsed = f"({time.perf_counter() - started:.1f} s)"
    if report.ok:
        echo(f"Catena dell'audit integra: {checked}. {elapsed}")
        return 0
    echo(f"Catena dell'audit ROTTA in {_count(len(report.broken), 'domanda', 'domande')} su {checked}. {elapsed}")
    echo("Primo anello rotto di ogni domanda:")
    for link in report.broken:
        echo(f"- {link.message}")
    return 1
