"""The member roster: replaced whole, from JSON rows or a CSV/XLSX file; all bad rows or nothing.

A file is parsed outside any database transaction (it holds no connection meanwhile), at most
``PARSES_AT_ONCE`` at a time (the parse is Python under the GIL: more at once only add their memory),
then written in a short transaction whose claim refuses a file that changed in between. A request
waits for its turn and parses holding no in-flight slot (it needs no database connection meanwhile)
and no worker thread: with a synchronous route, 15 hostile uploads at once held every slot while they
queued and ``GET /registro`` took up to 2.2 s.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, File, Request, UploadFile
from sqlmodel import col, delete, select
from starlette.concurrency import run_in_threadpool

from api.actions import claim_edit, ensure_editable
from api.deps import Context, Ctx, CurrentApplication
from api.errors import TooManyAttempts
from api.inflight import outside_inflight_limit
from api.routers.documents import too_large
from api.schemas import RosterIn, RosterRead, RosterRowRead
from api.uploads import ROSTER_TYPES, FileType, require_type
from models.application import Application
from models.district import MemberEnterprise
from models.enums import State
from models.errors import InvalidInput
from models.roster import RosterParseResult
from registro.settings import get_settings

router = APIRouter(prefix="/applications/{application_id}/roster", tags=["Elenco imprese"])

ROSTER_STATES = {State.DRAFT, State.INTEGRATION_REQUESTED}
PARSES_AT_ONCE = 2


def _save(ctx: Context, application: Application, result: Any) -> RosterRead:
    errors = [{k: getattr(e, k) for k in ("row_no", "field", "value", "message")} for e in result.errors]
    seen: dict[str, int] = {}
    for row in result.rows:  # one enterprise once: named here too, before the unique key would
        if row.vat_number in seen:
            message = f"partita IVA già presente alla riga {seen[row.vat_number]}"
            errors.append({"row_no": row.row_no, "field": "vat_number", "value": row.vat_number, "message": message})
        seen.setdefault(row.vat_number, row.row_no)
    if errors:
        raise InvalidInput(_summary(errors), errors=sorted(errors, key=lambda e: (e["row_no"], e["field"])))
    claim_edit(ctx, application)
    ctx.session.exec(delete(MemberEnterprise).where(col(MemberEnterprise.application_id) == application.id))
    for row in result.rows:
        ctx.session.add(MemberEnterprise(application_id=application.id, **_fields(row)))  # type: ignore[arg-type]
    ctx.session.commit()
    return read_roster(application, ctx)


def _summary(errors: list[dict[str, Any]]) -> str:
    file_problems = [e["message"] for e in errors if e["row_no"] == 0]
    if file_problems:  # the file as a whole (format, header, size): no row to name
        return "; ".join(file_problems) + " (nulla è stato salvato)"
    bad = sorted({e["row_no"] for e in errors})
    rows = ", ".join(map(str, bad))
    if len(bad) == 1:
        return f"l'elenco contiene una riga non valida (riga {rows}): nulla è stato salvato"
    return f"l'elenco contiene {len(bad)} righe non valide (righe {rows}): nulla è stato salvato"


def _fields(row: Any) -> dict[str, Any]:
    names = ("row_no", "name", "tax_code", "vat_number", "ateco", "employees", "region")
    return {name: getattr(row, name) for name in names}


@router.put("", response_model=RosterRead, summary="Sostituisce l'elenco delle imprese (righe JSON)")
def replace_roster(body: RosterIn, application: CurrentApplication, ctx: Ctx) -> RosterRead:
    from models.roster import validate_rows

    ensure_editable(ctx, application, ROSTER_STATES, "modificare l'elenco delle imprese")
    return _save(ctx, application, validate_rows([r.model_dump(exclude_none=True) for r in body.rows]))


@router.post("/file", response_model=RosterRead, summary="Sostituisce l'elenco delle imprese da un file CSV o XLSX")
async def upload_roster(
    request: Request,
    application: CurrentApplication,
    ctx: Ctx,
    file: Annotated[UploadFile, File(description="File CSV o XLSX")],
) -> RosterRead:
    ensure_editable(ctx, application, ROSTER_STATES, "modificare l'elenco delle imprese")
    await run_in_threadpool(ctx.session.commit)  # no transaction while parsing; the claim sees any change
    result = await parse_in_turn(request, file, ctx.user.id)
    return await run_in_threadpool(_save, ctx, application, result)


async def parse_in_turn(request: Request, file: UploadFile, user_id: int | None) -> RosterParseResult:
    """One file per user at a time (a second gets 429 at once), ``PARSES_AT_ONCE`` in all: one user
    sending hostile files together held both turns and kept another district's roster waiting 92 s."""
    state = request.app.state
    if getattr(state, "roster_parse_turns", None) is None:  # created on the server's event loop
        state.roster_parse_turns = anyio.Semaphore(PARSES_AT_ONCE)
        state.roster_parsing_users = set()
    if user_id in state.roster_parsing_users:
        raise TooManyAttempts("è già in lettura un altro elenco che ha caricato: attenderne l'esito e riprovare")
    state.roster_parsing_users.add(user_id)
    try:
        async with outside_inflight_limit(request), state.roster_parse_turns:
            return await anyio.to_thread.run_sync(read_roster_file, file)
    finally:
        state.roster_parsing_users.discard(user_id)


def read_roster_file(file: UploadFile) -> RosterParseResult:
    """The roster in an uploaded CSV or XLSX file (its type by content)."""
    from models.roster import parse_roster_csv, parse_roster_xlsx

    limit = get_settings().max_upload_bytes
    upload = file.file
    upload.seek(0, 2)
    if upload.tell() > limit:
        raise too_large(limit)
    try:  # by content: not the name, not the declared type
        detected = require_type(upload, ROSTER_TYPES)
    except InvalidInput as exc:  # the file as a whole: row 0, like the reader's own file errors
        problem = {"row_no": 0, "field": "file", "value": "", "message": exc.message}
        raise InvalidInput(exc.message, **{**exc.details, "errors": [problem]}) from None
    try:
        upload.seek(0)
        return parse_roster_xlsx(upload) if detected == FileType.XLSX else parse_roster_csv(upload.read())
    except Exception as exc:  # a damaged or foreign file is a bad request, never a 500
        raise InvalidInput("file non leggibile: caricare un CSV (UTF-8) o un foglio XLSX", field="file") from exc


@router.get("", response_model=RosterRead, summary="L'elenco delle imprese della domanda")
def read_roster(application: CurrentApplication, ctx: Ctx) -> RosterRead:
    rows = ctx.session.exec(
        select(MemberEnterprise)
        .where(MemberEnterprise.application_id == application.id)
        .order_by(col(MemberEnterprise.row_no))
    ).all()
    return RosterRead(
        enterprises=len(rows),
        employees=sum(r.employees for r in rows),
        rows=[RosterRowRead.model_validate(r) for r in rows],
    )
