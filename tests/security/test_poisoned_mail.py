"""Attack 4 of issue 15: one poisoned address must not hold the other mails, silently.

Before the fix ``pec_email`` and names took CR/LF (``"pec@x.example\\r\\nBcc: …"`` → 201); at delivery the
email library's ``HeaderParseError`` escaped ``tasks.delivery``, the whole batch stayed leased and was
retried every 10 minutes with the same result, every mail due then stayed queued with an empty
``last_error``, and the outbox showed nothing wrong.

(a) text with control characters, and malformed addresses, are refused at input (422 naming the field,
    nothing stored); (b) a batch with poisoned rows written straight into the database (as rows made
    before the fix would be) is delivered to a real SMTP server (``registro.mailcatcher``) except the
    poisoned ones, which are failed with their reason, none left leased, nothing sent twice by a second
    run; (c) the outbox page and the office dashboard show the failed mail and why.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlmodel import Session, col, func, select

from models.district import District
from models.enums import NotificationStatus, State
from models.notification import Notification
from models.people import User
from notifications.sender import SmtpConfig
from registro import mailcatcher
from tasks.delivery import deliver
from tests.api_support import API, Http, People
from tests.factories import Factory
from tests.pages_support import page_login

INJECTION = "\r\nBcc: spia@x.example"
CONTROLS = {
    "CR/LF": INJECTION,
    "LF": "\nBcc: spia@x.example",
    "CR": "\r",
    "TAB": "\t",
    "ESC": "\x1b[31m",
    "DEL": "\x7f",
    "C1 NEL": "\x85",
    "U+2028": "\u2028",
    "U+2029": "\u2029",
}


# ---- (a) refused at input ------------------------------------------------------------------------------


def _district(**over: Any) -> dict[str, Any]:
    body = {
        "name": "Distretto del mobile imbottito",
        "section": 1,
        "supply_chain": "mobile imbottito",
        "territory": "Murgia",
        "representative_org": "Consorzio del mobile",
        "pec_email": "mobile@pec.example.it",
    }
    return {**body, **over}


def _user(**over: Any) -> dict[str, Any]:
    body = {
        "username": "funzionaria",
        "full_name": "Anna Funzionaria",
        "email": "anna@regione.example",
        "role": "official",
        "office": "ricerca",
        "password": "una-password-lunga",
    }
    return {**body, **over}


def _count(session: Session, model: type[Any]) -> int:
    found = int(session.exec(select(func.count()).select_from(model)).one())
    session.commit()
    return found


def _refused(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert [e["field"] for e in body["errors"]] == [field], body
    assert body["detail"].startswith(f"dati non validi: {field}: "), body
    assert "carattere" in body["detail"] or "indirizzo" in body["detail"], body


@pytest.mark.parametrize("what", sorted(CONTROLS))
@pytest.mark.parametrize("field", ["name", "pec_email", "supply_chain", "territory", "representative_org"])
def test_district_text_with_control_characters_is_refused(
    client: TestClient, auth: Http, people: People, session: Session, field: str, what: str
) -> None:
    before = _count(session, District)
    value = _district()[field] + CONTROLS[what]
    _refused(client.post(f"{API}/districts", json=_district(**{field: value}), headers=auth(people.admin)), field)
    assert _count(session, District) == before


@pytest.mark.parametrize("what", ["CR/LF", "LF", "ESC", "U+2028", "C1 NEL"])
@pytest.mark.parametrize("field", ["username", "full_name", "email"])
def test_user_text_with_control_characters_is_refused(
    client: TestClient, auth: Http, people: People, session: Session, field: str, what: str
) -> None:
    before = _count(session, User)
    value = _user()[field] + CONTROLS[what]
    _refused(client.post(f"{API}/users", json=_user(**{field: value}), headers=auth(people.admin)), field)
    assert _count(session, User) == before


@pytest.mark.parametrize(
    "address",
    [
        "Mario Rossi <mario@pec.example.it>",  # a display name
        "mario rossi@pec.example.it",  # a space
        "mario@pec.example.it, spia@x.example",  # two addresses
        "mario@pec.example.it;spia@x.example",
        "mario.pec.example.it",  # no @
        "mario@@pec.example.it",
        "mario@pec",  # no domain
        ".mario@pec.example.it",
        "mario@-pec.example.it",
        "màrio@pec.example.it",  # not ASCII: refused by the SMTP command line
        '"mario rossi"@pec.example.it',
    ],
)
def test_malformed_addresses_are_refused(
    client: TestClient, auth: Http, people: People, session: Session, address: str
) -> None:
    districts, users = _count(session, District), _count(session, User)
    admin = auth(people.admin)
    _refused(client.post(f"{API}/districts", json=_district(pec_email=address), headers=admin), "pec_email")
    _refused(client.post(f"{API}/users", json=_user(email=address), headers=admin), "email")
    assert (_count(session, District), _count(session, User)) == (districts, users)


def test_good_text_is_still_accepted(client: TestClient, auth: Http, people: People) -> None:
    created = client.post(
        f"{API}/districts",
        json=_district(name="Distretto dell'agroalimentare – Città d'Otranto", pec_email=""),
        headers=auth(people.admin),
    )
    assert created.status_code == 201, created.text
    user = client.post(
        f"{API}/users", json=_user(full_name="Anna D'Ascanio-Müller", email="anna.d+pec@regione.example.it"),
        headers=auth(people.admin),
    )  # fmt: skip
    assert user.status_code == 201, user.text


def test_multiline_text_keeps_newlines_and_refuses_other_controls(
    client: TestClient, auth: Http, people: People
) -> None:
    draft = client.post(f"{API}/applications", json={}, headers=auth(people.rep))
    assert draft.status_code == 201, draft.text
    url = f"{API}/applications/{draft.json()['id']}"
    kept = client.patch(url, json={"programme_summary": "Obiettivi:\r\n- export\n- ricerca\tapplicata"},
                        headers=auth(people.rep))  # fmt: skip
    assert kept.status_code == 200, kept.text
    for bad in ("\x1b[2J", "\x85", "\u2028", "\x0c"):
        refused = client.patch(url, json={"specificity": f"Testo{bad}altro"}, headers=auth(people.rep))
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["errors"][0]["field"] == "specificity"
    stored = client.get(url, headers=auth(people.rep)).json()
    assert stored["programme_summary"] == "Obiettivi:\r\n- export\n- ricerca\tapplicata"
    assert not any(bad in stored["specificity"] for bad in ("\x1b", "\x85", "\u2028", "\x0c"))


# ---- (b) poisoned rows already in the database do not hold the batch -------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """The project's own capture server (the one of ``make run``), on a free port of 127.0.0.1."""
    port, folder = _free_port(), tmp_path / "mail"
    controller: Controller = mailcatcher.start("127.0.0.1", port, folder)
    yield port, folder
    controller.stop()


def captured(folder: Path) -> list[str]:
    """The envelope recipient of every message the server accepted."""
    return sorted(
        str(BytesHeaderParser().parsebytes(path.read_bytes())["X-Envelope-To"]) for path in folder.glob("*.eml")
    )


POISONED = {
    "crlf": "pec@x.example\r\nBcc: spia@x.example",  # the attack: HeaderParseError in the email library
    "lf_subject": "subject",  # a subject carrying a header of its own (see below)
    "not_ascii": "distrètto@pec.example.it",  # cannot go on an SMTP command line
    "display_name": "Mario <mario@pec.example.it>",
    "space": "mario rossi@pec.example.it",
}


def queue_batch(session: Session, application_id: int | None, as_of: datetime, good: int) -> dict[str, int]:
    """``good`` good rows with the poisoned ones between them, written straight into the database."""
    recipients: list[tuple[str, str, str]] = []
    poisons = list(POISONED.items())
    for n in range(good):
        recipients.append((f"good{n}", f"distretto{n}@pec.example.it", f"Esito del procedimento n. {n}"))
        if n % 2 == 1 and poisons:
            name, address = poisons.pop(0)
            if name == "lf_subject":
                recipients.append((name, "oggetto@pec.example.it", "Esito\r\nBcc: spia@x.example"))
            else:
                recipients.append((name, address, "Esito del procedimento (destinatario avvelenato)"))
    assert not poisons, "not enough good rows to interleave every poisoned one"
    rows = [
        Notification(
            idempotency_key=f"decision:{name}",
            application_id=application_id,
            kind="decision",
            recipient=address,
            subject=subject,
            body_text="La domanda è stata accolta.",
            body_html="<p>La domanda è stata accolta.</p>",
            created_at=as_of,
            next_attempt_at=as_of,
        )
        for name, address, subject in recipients
    ]
    session.add_all(rows)
    session.commit()
    ids = {row.idempotency_key.split(":", 1)[1]: int(row.id or 0) for row in rows}
    session.expunge_all()
    return ids


def _rows(session: Session) -> dict[int, Notification]:
    session.expire_all()
    found = {int(row.id or 0): row for row in session.exec(select(Notification).order_by(col(Notification.id)))}
    session.commit()
    return found


def _config(port: int) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=port, mail_from="registro@regione.example", timeout=5)


def test_poisoned_rows_fail_alone_and_the_batch_is_delivered(
    session: Session, now: datetime, catcher: tuple[int, Path]
) -> None:
    port, folder = catcher
    ids = queue_batch(session, None, now, good=20)
    report = asyncio.run(deliver(as_of=now, limit=500, config=_config(port)))

    good = sorted(i for name, i in ids.items() if name.startswith("good"))
    poisoned = sorted(i for name, i in ids.items() if not name.startswith("good"))
    assert report.smtp_error is None and report.released == []
    assert sorted(report.sent) == good and sorted(report.failed) == poisoned
    assert captured(folder) == sorted(f"distretto{n}@pec.example.it" for n in range(20))
    rows = _rows(session)
    for i in good:
        assert rows[i].status == NotificationStatus.SENT, (rows[i].recipient, rows[i].last_error)
    for name in POISONED:
        row = rows[ids[name]]
        assert row.status == NotificationStatus.FAILED and row.next_attempt_at is None, (name, row.status)
        assert row.last_error and row.attempts == 1, name
    assert "a capo" in (rows[ids["crlf"]].last_error or "")
    assert "oggetto" in (rows[ids["lf_subject"]].last_error or "")
    assert "ASCII" in (rows[ids["not_ascii"]].last_error or "")
    # nothing left reserved: no row waits for a lease, no row "sending"
    assert all(r.status in (NotificationStatus.SENT, NotificationStatus.FAILED) for r in rows.values())
    # a second run (and one after the lease would have expired) sends nothing twice
    for later in (now + timedelta(minutes=1), now + timedelta(hours=1)):
        again = asyncio.run(deliver(as_of=later, limit=500, config=_config(port)))
        assert again.claimed == 0 and again.sent == [] and again.uncertain == []
    assert len(captured(folder)) == 20
    assert "spia@x.example" not in " ".join(p.read_text(errors="replace") for p in folder.glob("*.eml"))


# ---- (c) the outbox page and the dashboard show it ------------------------------------------------------


def test_outbox_page_and_dashboard_show_the_failed_mail_and_its_reason(
    client: TestClient, people: People, factory: Factory, session: Session, now: datetime,
    catcher: tuple[int, Path],
) -> None:  # fmt: skip
    port, _ = catcher
    application = factory.application(people.district)
    application.state, application.submitted_at = State.SUBMITTED, now  # a draft's mails are its district's
    session.add(application)
    session.commit()
    ids = queue_batch(session, application.id, now, good=10)
    asyncio.run(deliver(as_of=now, limit=500, config=_config(port)))
    failed = _rows(session)[ids["crlf"]]
    assert failed.status == NotificationStatus.FAILED and failed.last_error

    page_login(client, people.official)
    outbox = client.get("/ufficio/comunicazioni")
    assert outbox.status_code == 200
    html = outbox.text
    # the failure stands out above the list, with a link to the failed mails only
    assert "non recapitate" in html and 'href="/ufficio/comunicazioni?stato=failed"' in html
    failed_only = client.get("/ufficio/comunicazioni?stato=failed").text
    table = failed_only.split('id="posta"')[1].split("</table>")[0]
    assert table.count('class="status-failed"') == len(POISONED)
    assert "Non recapitata" in table and "Motivo:" in table
    reason = str(escape(failed.last_error or ""))
    assert reason in table
    detail = client.get(f"/ufficio/comunicazioni/{failed.id}").text
    assert "Motivo del mancato recapito" in detail and reason in detail

    dashboard = client.get("/ufficio").text
    tile = dashboard.split("Comunicazioni non recapitate")[0].rsplit('<li class="tile', 1)[1]
    assert f'<span class="figure">{len(POISONED)}</span>' in tile and "warn" in tile


# ---- the same rule on the other ways in: the command line and the pages -------------------------------


@pytest.mark.parametrize(
    "options",
    [
        ["--full-name", "Anna\r\nBcc: spia@x.example"],
        ["--email", "anna@regione.example\nBcc: spia@x.example"],
        ["--email", "Anna <anna@regione.example>"],
    ],
)
def test_command_line_user_with_control_characters_is_refused(session: Session, options: list[str]) -> None:
    from typer.testing import CliRunner

    from registro.cli import app

    before = _count(session, User)
    arguments = ["create-user", "anna", "--role", "official", "--office", "ricerca", "--password", "x" * 12]
    result = CliRunner().invoke(app, [*arguments, *options])
    assert result.exit_code != 0 and "creato" not in result.output, result.output
    assert _count(session, User) == before


def test_page_form_shows_the_reason_and_stores_nothing(client: TestClient, people: People, factory: Factory) -> None:
    from tests.pages_support import submit_form

    draft = factory.application(people.district)
    page_login(client, people.rep)
    url = f"/pratiche/{draft.id}/modifica"
    sent = submit_form(client, url, url, {"programme_summary": "Programma\x1b[2J", "specificity": "Specificità"})
    assert sent.status_code == 422, sent.text
    assert "carattere non ammesso alla posizione 10: carattere di escape (ESC)" in sent.text
    assert "Programma\x1b" not in client.get(url).text
