"""Documents the procedure issues: rendered from a template, stored by content hash, protocolled.

An issued document is made in two steps, so that no transaction (its connection, the locked rows of
the action and the file) is held while a page is laid out (xhtml2pdf, pure Python: 15-30 ms of CPU
a page, the longest thing the stage work did):

1. ``draft_html``, inside the stage's transaction, after ``apply_event``: the Jinja2 template's
   HTML, citing the act number, the deadlines and the protocol that exist by then (a few ms);
2. ``lay_out`` (the PDF, outside any transaction), ``store_file``, then ``record_document``, in a
   short transaction of its own: the outbound protocol entry with the PDF's SHA-256 — one
   operation, as DPR 445/2000 art. 53 c. 3 wants — and the document row.

``tasks.stage_work`` keeps the draft on the action between the two, so a crash in between loses
nothing: the action is still queued and its next run goes straight to step 2.
"""

from __future__ import annotations

import io
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from models.application import Application, Document, ProtocolEntry
from models.district import District, member_totals
from models.enums import DocumentKind, ProtocolDirection
from models.labels import DOCUMENT_LABELS
from models.lifecycle import DocumentSpec
from models.people import User
from models.procedure import AuditEvent, Evaluation
from models.profiles import RegionProfile
from models.protocol import register_protocol, sha256_hex
from models.registry import latest_act
from models.service import evaluation_round
from notifications.rendering import render


@dataclass(frozen=True)
class RenderedDocument:
    content: bytes
    content_type: str
    extension: str


class DocumentRenderingError(RuntimeError):
    """The layout engine could not produce the PDF (a template bug, never the user's input)."""


def lay_out(html: str, *, template: str) -> RenderedDocument:
    """THE layout of an issued document's HTML as PDF (``template`` names it in an error)."""
    from xhtml2pdf import pisa

    out = io.BytesIO()
    status = pisa.CreatePDF(html, dest=out, encoding="utf-8")
    if status.err:
        raise DocumentRenderingError(f"impaginazione PDF non riuscita per il modello «{template}»")
    return RenderedDocument(out.getvalue(), "application/pdf", "pdf")


def store_file(files_dir: Path, content: bytes) -> tuple[str, Path]:
    """Writes ``content`` to ``files_dir/<sha[:2]>/<sha>`` (atomic, fsynced, idempotent); returns (sha, path)."""
    sha = sha256_hex(content)
    path = files_dir / sha[:2] / sha
    if path.is_file() and path.stat().st_size == len(content):
        return sha, path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{sha}.{uuid.uuid4().hex}.tmp")
    with tmp.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return sha, path


def document_context(
    session: Session,
    *,
    application: Application,
    audit: AuditEvent,
    profile: RegionProfile,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """Everything a document template may cite, read in the stage's transaction."""
    district = session.get(District, application.district_id)
    assert district is not None
    enterprises, employees = member_totals(session, application.id)
    submission = session.get(ProtocolEntry, application.protocol_id) if application.protocol_id else None
    act = latest_act(session, application.id)
    scores = session.exec(
        select(Evaluation.total).where(
            Evaluation.application_id == application.id, Evaluation.round == evaluation_round(application)
        )
    ).all()
    documents = session.exec(
        select(Document).where(Document.application_id == application.id).order_by(col(Document.id))
    ).all()
    official = session.get(User, application.responsible_official_id) if application.responsible_official_id else None
    signer = session.get(User, audit.actor_id) if audit.actor_id else None
    missing = payload.get("missing_items") or []
    timeline = session.exec(
        select(AuditEvent).where(AuditEvent.application_id == application.id).order_by(col(AuditEvent.id))
    ).all()
    return {
        "application": application,
        "district": district,
        "profile": profile,
        "section": profile.section(application.section),
        "office": profile.office_of(application.section),
        "audit": audit,
        "payload": payload,
        "missing_items": [str(m) for m in missing] if isinstance(missing, list | tuple) else [str(missing)],
        "reason": str(payload.get("reason") or audit.reason or ""),
        "enterprises": enterprises,
        "employees": employees,
        "submission": submission,
        "act": act,  # the latest numbered act: the one being issued, when the document is an act
        "recognition_act": latest_act(session, application.id, DocumentKind.RECOGNITION_ACT),
        "operative_verb": operative_verb(profile.act_type),
        "average_score": sum(scores) / len(scores) if scores else None,
        "documents": documents,
        "document_labels": DOCUMENT_LABELS,
        "official": official,
        "signer": signer,
        "timeline": list(timeline),  # the file's events, oldest first: the premises of an act cite them
    }


def operative_verb(act_type: str) -> str:
    """The verb that opens the operative part of an act, from its type (profile setting)."""
    lowered = act_type.lower()
    if lowered.startswith("decreto"):
        return "DECRETA"
    if lowered.startswith("determina"):
        return "DETERMINA"
    if lowered.startswith(("delibera", "dgr")):
        return "DELIBERA"
    return "DISPONE"


def draft_html(
    session: Session,
    *,
    spec: DocumentSpec,
    application: Application,
    audit: AuditEvent,
    profile: RegionProfile,
    payload: dict[str, Any],
) -> str:
    """Step 1, in the stage's transaction: the HTML of the document of ``spec``, from what it cites."""
    context = document_context(session, application=application, audit=audit, profile=profile, payload=payload)
    return render(f"documents/{spec.template}.html.j2", title=spec.title, **context)


def record_document(
    session: Session,
    *,
    spec: DocumentSpec,
    application: Application,
    audit: AuditEvent,
    rendered: RenderedDocument,
    now: datetime,
) -> Document:
    """Step 2, once the PDF is laid out and stored: protocols it (outbound letters and acts) and
    records it; links a decree to its act. No commit."""
    sha = sha256_hex(rendered.content)
    district = session.get(District, application.district_id)
    assert district is not None
    act = latest_act(session, application.id, spec.kind) if spec.numbered_act else None
    if spec.outbound:
        subject = f"{act.act_type} {act.label} – " if act is not None else f"{spec.title} – "
        protocol_id = register_protocol(
            session,
            direction=ProtocolDirection.OUTBOUND,
            correspondent=district.representative_org or district.name,
            subject=subject + district.name,
            sha256=sha,
            application_id=application.id,
            now=now,
        ).id
    else:
        protocol_id = application.protocol_id
    stem = f"{spec.kind.value.replace('_', '-')}-{act.year}-{act.number}" if act else f"{spec.kind.value}-{audit.id}"
    document = Document(
        application_id=application.id,  # type: ignore[arg-type]
        kind=spec.kind,
        filename=f"{stem}.{rendered.extension}",
        content_type=rendered.content_type,
        size=len(rendered.content),
        sha256=sha,
        protocol_id=protocol_id,
        uploaded_by_id=audit.actor_id if spec.outbound else None,  # the receipt is issued by the system
        uploaded_at=now,
    )
    session.add(document)
    session.flush()
    if act is not None:
        act.document_id = document.id
        session.add(act)
    return document
