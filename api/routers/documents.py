"""Documents: multipart upload stored by content (SHA-256), listing, access-checked download."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import FileResponse

from api.actions import ensure_editable
from api.deps import Ctx, CurrentApplication
from api.errors import PayloadTooLarge
from api.read import document_reads
from api.schemas import DocumentRead
from api.uploads import DOCUMENT_TYPES, SPREADSHEET_DOCUMENT_TYPES, FileType, require_type, safe_name
from models.application import Document
from models.enums import DocumentKind
from models.errors import InvalidInput, NotFound
from models.labels import DOCUMENT_LABELS
from models.lifecycle import ISSUED_DOCUMENTS, UPLOADS_IN
from registro.settings import get_settings

router = APIRouter(prefix="/applications/{application_id}/documents", tags=["Documenti"])

CHUNK = 1024 * 1024
UPLOAD_STATES = frozenset(UPLOADS_IN)  # models.lifecycle: the draft and the states answered with documents
# the roster may also be filed as the spreadsheet itself
SPREADSHEET_KINDS = {DocumentKind.ROSTER, DocumentKind.OTHER}


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"il file supera la dimensione massima consentita ({limit // (1024 * 1024)} MB)", max_bytes=limit
    )


def stored_path(sha256: str) -> Path:
    """Where a content lives: files_dir/<sha[:2]>/<sha>. The client's file name is never a path."""
    return get_settings().files_dir / sha256[:2] / sha256


def store(upload: UploadFile, accepted: tuple[FileType, ...] = DOCUMENT_TYPES) -> tuple[str, int, FileType]:
    """Streams the upload to disk, hashing and counting; the limit is checked while reading, then the
    type of the content. A refused file is removed: only accepted contents reach their place."""
    limit = get_settings().max_upload_bytes
    root = get_settings().files_dir
    root.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := upload.file.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                digest.update(chunk)
                out.write(chunk)
        with open(tmp, "rb") as written:
            detected = require_type(written, accepted)
        sha = digest.hexdigest()
        target = stored_path(sha)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)  # same content, same name: idempotent
        return sha, size, detected
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def stored_document(
    ctx: Ctx,
    upload: UploadFile,
    *,
    application_id: int,
    kind: DocumentKind,
    annual_report_id: int | None = None,
    accepted: tuple[FileType, ...] | None = None,
) -> Document:
    """Checks the content's type, stores it by content and adds its row (the caller commits).

    The type is the one read from the content (the client's name and declared type are not
    trusted); a refused file leaves nothing behind, on disk or in the database.
    """
    if accepted is None:
        accepted = SPREADSHEET_DOCUMENT_TYPES if kind in SPREADSHEET_KINDS else DOCUMENT_TYPES
    sha, size, detected = store(upload, accepted)
    document = Document(
        application_id=application_id,
        annual_report_id=annual_report_id,
        kind=kind,
        filename=safe_name(display_name(upload.filename), detected),
        content_type=detected.value,
        size=size,
        sha256=sha,
        uploaded_by_id=ctx.user.id,
        uploaded_at=ctx.now,
    )
    ctx.session.add(document)
    return document


def display_name(name: str | None) -> str:
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[\x00-\x1f\x7f\"]", "", base).strip(" .")
    return base[:255] or "documento"


@router.post("", status_code=201, response_model=DocumentRead, summary="Carica un documento")
def upload_document(
    application: CurrentApplication,
    ctx: Ctx,
    kind: Annotated[DocumentKind, Form(description="Tipo di documento")],
    file: Annotated[
        UploadFile,
        File(description="Il file: PDF o PDF firmato digitalmente (.p7m); per l'elenco imprese anche CSV o XLSX"),
    ],
) -> DocumentRead:
    ensure_editable(ctx, application, UPLOAD_STATES, "caricare documenti")
    if kind in ISSUED_DOCUMENTS:
        raise InvalidInput(f"il documento «{DOCUMENT_LABELS[kind]}» è prodotto dall'ufficio", field="kind")
    document = stored_document(ctx, file, application_id=application.id or 0, kind=kind)
    ctx.session.commit()
    return next(d for d in document_reads(ctx.session, application) if d.id == document.id)


@router.get("", response_model=list[DocumentRead], summary="Documenti della domanda")
def list_documents(application: CurrentApplication, ctx: Ctx) -> list[DocumentRead]:
    return document_reads(ctx.session, application)


@router.get("/{document_id}/file", response_class=FileResponse, summary="Scarica un documento")
def download_document(document_id: int, application: CurrentApplication, ctx: Ctx) -> FileResponse:
    document = ctx.session.get(Document, document_id)
    if document is None or document.application_id != application.id:
        raise NotFound(f"documento {document_id} non trovato")
    path = stored_path(document.sha256)
    if not path.is_file():
        raise NotFound("il contenuto del documento non è disponibile nell'archivio")
    return FileResponse(path, media_type=document.content_type, filename=document.filename)
