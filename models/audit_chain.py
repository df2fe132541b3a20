"""The audit trail as a keyed hash chain, one chain per application.

Each audit event stores ``prev_hash`` (the ``hash`` of the application's previous event, or
``GENESIS`` for the first) and ``hash``: HMAC-SHA256, keyed with ``REGISTRO_AUDIT_KEY`` (outside
production a random key under ``<data_dir>/segreti``, ``registro.local_secrets``), over a canonical
JSON of its own fields and ``prev_hash``. The application stores ``audit_head``, the hash of its last
event, so removing the last events is detected too. Editing, removing or inserting an event through
SQL breaks the chain; ``verify`` names the first broken link of each application.

Why a key: with a plain SHA-256 (the chain up to migration 0005, ``legacy_event_hash``) whoever
could write the database could also recompute every following hash and the head after an edit, and
the chain verified again (issue 15, attack 6). The key is never in the database, so the database's
reader or writer alone cannot recompute the chain. Whoever holds the key (the application's own user)
still can: against that, the day's heads leave the system every evening (``tasks/audit_heads.py``)
and ``verify`` compares the chains with such an archived record (``witnesses``).

Cost (``bench/audit_chain.py``, 100,000 events of 10,000 applications, 2 shared cores under load,
2026-12-04): the walk in memory takes 1.67-2.01 s of CPU with plain SHA-256 and 1.79-2.05 s keyed
(median +8-11 %): the HMAC, from a keyed state copied per event (``keyed``), is about 1.4 µs an event
against 0.7 µs, next to about 17 µs for the canonical JSON. The whole ``audit-verify`` from the
database took 9.7-10.9 s (PostgreSQL), reading rows most of it.

The canonical form is frozen: changing it invalidates every stored chain. The event id is not
part of it (it is only known after the INSERT): the order of an application's events is the
order of their ids, and the ``prev_hash`` links make that order itself tamper-evident.
Per application the chain is linear because ``apply_event`` serializes the moves on one
application (optimistic version bump); a single global chain would fork under concurrent
moves on different applications.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
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


Digest = Callable[[Any, str], str]  # (event, prev_hash) -> hash


def event_hash(event: Any, prev_hash: str, key: bytes) -> str:
    """The hash of an event: HMAC-SHA256 with the audit key over its canonical form."""
    return hmac.new(key, canonical(event, prev_hash), hashlib.sha256).hexdigest()


def keyed(key: bytes) -> Digest:
    """``event_hash`` with ``key`` fixed, for many events: the keyed state is made once and copied."""
    state = hmac.new(key, digestmod=hashlib.sha256)

    def digest(event: Any, prev_hash: str) -> str:
        mac = state.copy()
        mac.update(canonical(event, prev_hash))
        return mac.hexdigest()

    return digest


def legacy_event_hash(event: Any, prev_hash: str) -> str:
    """The unkeyed hash of the chains written before migration 0005 (plain SHA-256): migrations only."""
    return hashlib.sha256(canonical(event, prev_hash)).hexdigest()


def chain_key() -> bytes:
    """The audit key of the settings (``REGISTRO_AUDIT_KEY``; in production refused when missing)."""
    from registro.settings import get_settings  # the one setting the domain reads: its key

    return get_settings().effective_audit_key.encode()


class ChainRefused(RuntimeError):
    """A chain to re-hash (migration 0005) is already broken: nothing changes (message in Italian)."""


@dataclass(frozen=True)
class BrokenLink:
    application_id: int
    event_id: int | None  # None: the break is on the application's recorded head
    message: str


@dataclass(frozen=True)
class Head:
    """An application's chain at one moment: how many events, and the hash of the last."""

    events: int
    hash: str


Witness = Mapping[int, Head]  # application id -> its head as archived (``tasks/audit_heads.py``)


@dataclass
class ChainReport:
    events: int = 0
    applications: int = 0
    broken: list[BrokenLink] = field(default_factory=list)
    heads: dict[int, Head] = field(default_factory=dict)  # as read: the day's record is made of these
    differences: list[list[BrokenLink]] = field(default_factory=list)  # per witness, what differs from it

    @property
    def ok(self) -> bool:
        return not self.broken


def _events_query() -> Select[Any]:
    from models.procedure import AuditEvent

    columns = [col(AuditEvent.id), col(AuditEvent.prev_hash), col(AuditEvent.hash)]
    columns += [col(getattr(AuditEvent, name)) for name in HASHED_FIELDS]
    return select(*columns).order_by(col(AuditEvent.application_id), col(AuditEvent.id))


class _Chain:
    """The walk of one application's events, stopping at the first broken link; it also compares the
    hash at each archived position with the witnesses' (whether or not the chain broke before)."""

    def __init__(
        self, application_id: int, head: str | None, digest: Digest, expected: dict[int, list[tuple[int, str]]]
    ) -> None:
        self.application_id = application_id
        self.head = head
        self.digest = digest
        self.expected = expected  # position (1-based) -> [(witness index, archived hash)]
        self.expected_prev = GENESIS
        self.last_id: int | None = None
        self.position = 0
        self.last_hash = ""
        self.seen: dict[str, int] = {}  # hash -> event id, to tell appended events from removed ones
        self.broken: BrokenLink | None = None
        self.differences: list[tuple[int, BrokenLink]] = []

    def _break(self, event_id: int | None, message: str) -> None:
        self.broken = BrokenLink(self.application_id, event_id, message)

    def step(self, row: Any) -> None:
        self.position += 1
        self.last_hash = row.hash
        for witness, archived in self.expected.get(self.position, ()):
            if row.hash != archived:
                message = (
                    f"domanda {self.application_id}: l'impronta dell'evento n. {self.position} (evento {row.id})"
                    " non è quella archiviata: un evento fino a questo è stato riscritto"
                )
                self.differences.append((witness, BrokenLink(self.application_id, row.id, message)))
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
        if row.hash != self.digest(row, row.prev_hash or ""):
            self._break(row.id, f"{where}: l'impronta non corrisponde al contenuto (modificato dopo la scrittura)")
            return
        self.seen[row.hash] = row.id
        self.expected_prev = row.hash
        self.last_id = row.id

    def finish(self) -> None:
        for position, archived in self.expected.items():
            if position > self.position:
                message = (
                    f"domanda {self.application_id}: ha {self.position} eventi, le impronte archiviate"
                    f" ne registrano {position} (eventi rimossi)"
                )
                self.differences += [
                    (witness, BrokenLink(self.application_id, None, message)) for witness, _ in archived
                ]
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


def verify(
    session: Session,
    *,
    key: bytes,
    witnesses: Sequence[Witness] = (),
    progress: Callable[[int], None] | None = None,
    batch: int = 2000,
) -> ChainReport:
    """Walks every application's chain with the audit ``key``; reports the first broken link of each
    application, and for each witness (archived heads) the applications whose chain differs from it.

    Reads the events in (application, id) order, ``batch`` rows at a time; ``progress`` (if
    given) receives the number of events read so far after each batch.
    """
    from models.application import Application

    heads: dict[int, str | None] = {
        app_id: head
        for app_id, head in session.exec(select(col(Application.id), col(Application.audit_head))).all()
        if app_id is not None
    }
    result = session.execute(_events_query().execution_options(yield_per=batch))
    return walk(result.partitions(), heads, keyed(key), witnesses=witnesses, progress=progress)


def walk(
    batches: Iterable[Sequence[Any]],
    heads: dict[int, str | None],
    digest: Digest,
    *,
    witnesses: Sequence[Witness] = (),
    progress: Callable[[int], None] | None = None,
) -> ChainReport:
    """``verify`` over rows from anywhere (migrations read them with their own tables): ``batches`` of
    rows with the event's id, prev_hash, hash and hashed fields, in (application, id) order; ``heads``
    is every application's recorded head (consumed)."""
    report = ChainReport(applications=len(heads), differences=[[] for _ in witnesses])
    expected: dict[int, dict[int, list[tuple[int, str]]]] = {}
    for index, witness in enumerate(witnesses):
        for app_id, head in witness.items():
            expected.setdefault(app_id, {}).setdefault(head.events, []).append((index, head.hash))
    chain: _Chain | None = None
    for rows in batches:
        for row in rows:
            if chain is None or chain.application_id != row.application_id:
                if chain is not None:
                    _close(chain, report)
                app_id = row.application_id
                chain = _Chain(app_id, heads.pop(app_id, None), digest, expected.pop(app_id, {}))
            chain.step(row)
            report.events += 1
        if progress is not None:
            progress(report.events)
    if chain is not None:
        _close(chain, report)
    for app_id, recorded in sorted(heads.items()):  # applications without any event
        _close(_Chain(app_id, recorded, digest, expected.pop(app_id, {})), report)
    for app_id, positions in sorted(expected.items()):  # archived, but neither the application nor events remain
        for position, archived in positions.items():
            message = (
                f"domanda {app_id}: non è più nel database (le impronte archiviate ne registrano {position} eventi)"
            )
            for index, _ in archived:
                report.differences[index].append(BrokenLink(app_id, None, message))
    report.broken.sort(key=lambda link: link.application_id)
    for found in report.differences:
        found.sort(key=lambda link: link.application_id)
    return report


def _close(chain: _Chain, report: ChainReport) -> None:
    chain.finish()
    if chain.broken is not None:
        report.broken.append(chain.broken)
    if chain.position:
        report.heads[chain.application_id] = Head(chain.position, chain.last_hash)
    for witness, link in chain.differences:
        report.differences[witness].append(link)
