"""The audit trail as a hash chain, one chain per application.

Each audit event stores ``prev_hash`` (the ``hash`` of the application's previous event, or
``GENESIS`` for the first) and ``hash``: SHA-256 over a canonical JSON of its own fields and
``prev_hash``. The application stores ``audit_head``, the hash of its last event, so removing
the last events is detected too. Editing, removing or inserting an event through SQL, without
recomputing every following hash and the head, breaks the chain; ``verify`` names the first
broken link of each application.

The canonical form is frozen: changing it invalidates every stored chain. The event id is not
part of it (it is only known after the INSERT): the order of an application's events is the
order of their ids, and the ``prev_hash`` links make that order itself tamper-evident.
Per application the chain is linear because ``apply_event`` serializes the moves on one
application (optimistic version bump); a single global chain would fork under concurrent
moves on different applications.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Select
from sqlmodel import Session, col, select

GENESIS = "0" * 64

# the fields of an audit event that its hash covers (besides prev_hash), in canonical order
HASHED_FIELDS = (
    "subject",
    "application_id",
    "report_id",
    "event",
    "from_state",
    "to_state",
    "actor_id",
    "actor_role",
    "at",
    "reason",
    "flow_run_id",
    "details",
)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        if value.tzinfo is None:  # stored naive UTC (raw SQL reads)
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def canonical(event: Any, prev_hash: str) -> bytes:
    """The bytes the hash covers: the same before the INSERT and after a read on either database.

    ``event`` is an ``AuditEvent`` or any row with the same attribute names (migrations).
    ``details`` goes through a JSON round trip first, as it does on its way to the database
    (non-string keys become strings), then is written with sorted keys.
    """
    values: dict[str, Any] = {name: _plain(getattr(event, name)) for name in HASHED_FIELDS}
    values["details"] = json.loads(json.dumps(values["details"] if values["details"] is not None else {}))
    values["prev_hash"] = prev_hash
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def event_hash(event: Any, prev_hash: str) -> str:
    return hashlib.sha256(canonical(event, prev_hash)).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    application_id: int
    event_id: int | None  # None: the break is on the application's recorded head
    message: str


@dataclass
class ChainReport:
    events: int = 0
    applications: int = 0
    broken: list[BrokenLink] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.broken


def _events_query() -> Select[Any]:
    from models.procedure import AuditEvent

    columns = [col(AuditEvent.id), col(AuditEvent.prev_hash), col(AuditEvent.hash)]
    columns += [col(getattr(AuditEvent, name)) for name in HASHED_FIELDS]
    return select(*columns).order_by(col(AuditEvent.application_id), col(AuditEvent.id))


class _Chain:
    """The walk of one application's events, stopping at the first broken link."""

    def __init__(self, application_id: int, head: str | None) -> None:
        self.application_id = application_id
        self.head = head
        self.expected_prev = GENESIS
        self.last_id: int | None = None
        self.seen: dict[str, int] = {}  # hash -> event id, to tell appended events from removed ones
        self.broken: BrokenLink | None = None

    def _break(self, event_id: int | None, message: str) -> None:
        self.broken = BrokenLink(self.application_id, event_id, message)

    def step(self, row: Any) -> None:
        if self.broken is not None:
            return
        where = f"evento {row.id} (domanda {self.application_id})"
        if row.prev_hash != self.expected_prev:
            if self.last_id is None:
                self._break(
                    row.id,
                    f"{where}: è il primo evento della domanda ma prev_hash non è quello iniziale"
                    " (eventi iniziali tolti o un evento inserito)",
                )
            else:
                self._break(
                    row.id,
                    f"{where}: prev_hash non corrisponde all'evento precedente {self.last_id}"
                    " (un evento è stato tolto o inserito)",
                )
            return
        if row.hash != event_hash(row, row.prev_hash or ""):
            self._break(row.id, f"{where}: l'impronta non corrisponde al contenuto (modificato dopo la scrittura)")
            return
        self.seen[row.hash] = row.id
        self.expected_prev = row.hash
        self.last_id = row.id

    def finish(self) -> None:
        if self.broken is not None:
            return
        where = f"domanda {self.application_id}"
        if self.last_id is None:
            if self.head is not None:
                self._break(
                    None,
                    f"{where}: nessun evento, ma la domanda registra un'impronta finale (eventi rimossi)",
                )
            return
        if self.head is None:
            self._break(None, f"{where}: ha eventi ma nessuna impronta finale registrata sulla domanda")
        elif self.head != self.expected_prev:
            if self.head in self.seen:
                self._break(
                    None,
                    f"{where}: l'impronta registrata sulla domanda è quella dell'evento {self.seen[self.head]};"
                    f" gli eventi successivi (fino al {self.last_id}) sono stati aggiunti fuori dal procedimento",
                )
            else:
                self._break(
                    None,
                    f"{where}: l'ultimo evento ({self.last_id}) non corrisponde all'impronta registrata"
                    " sulla domanda (eventi finali rimossi)",
                )


def verify(session: Session, *, progress: Callable[[int], None] | None = None, batch: int = 2000) -> ChainReport:
    """Walks every application's chain; reports the first broken link of each application.

    Reads the events in (application, id) order, ``batch`` rows at a time; ``progress`` (if
    given) receives the number of events read so far after each batch.
    """
    from models.application import Application

    heads: dict[int, str | None] = {
        app_id: head
        for app_id, head in session.exec(select(col(Application.id), col(Application.audit_head))).all()
        if app_id is not None
    }
    report = ChainReport(applications=len(heads))
    chain: _Chain | None = None
    result = session.execute(_events_query().execution_options(yield_per=batch))
    for rows in result.partitions():
        for row in rows:
            if chain is None or chain.application_id != row.application_id:
                if chain is not None:
                    _close(chain, report)
                chain = _Chain(row.application_id, heads.pop(row.application_id, None))
            chain.step(row)
            report.events += 1
        if progress is not None:
            progress(report.events)
    if chain is not None:
        _close(chain, report)
    for app_id, head in sorted(heads.items()):  # applications without any event
        empty = _Chain(app_id, head)
        _close(empty, report)
    report.broken.sort(key=lambda link: link.application_id)
    return report


def _close(chain: _Chain, report: ChainReport) -> None:
    chain.finish()
    if chain.broken is not None:
        report.broken.append(chain.broken)
