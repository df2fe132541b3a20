"""In a real browser: a representative files the annual report (Relazione Annuale), the office returns it
with remarks, the representative corrects and files it again, the office accepts it.

The report is opened by the real report-cycle sweep (Prefect flow), the pages are served by the real app;
screenshots of the key pages go to test-artifacts/screenshots/relazione-annuale-*.png.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import FilePayload, Locator, Page, expect
from sqlmodel import Session, col, select

from flows.sweeps import annual_report_cycle
from models.application import Document
from models.base import local_date
from models.enums import State
from models.notification import Notification
from models.registry import AnnualReport
from models.roster import FIELDS
from tasks.report_cycle import ReportCycleReport
from tests.api_support import Http, People, fetch, roster_rows, to_active, vat
from tests.browser.conftest import LiveServer, login, logout, run_in_thread, shot, unlabelled_fields

pytestmark = pytest.mark.browser

YEAR = 2026  # the year reported on: ``to_active`` registers the district on 2 March 2026 (``now`` fixture)
OPENED = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)  # the sweep's day: the collection opened on 1 January 2027
FILED = datetime(2027, 2, 15, 9, 0, tzinfo=UTC)  # 44 days before the due date
RETURNED = datetime(2027, 2, 17, 9, 0, tzinfo=UTC)
FILED_AGAIN = datetime(2027, 2, 19, 9, 0, tzinfo=UTC)
ACCEPTED = datetime(2027, 2, 22, 9, 0, tzinfo=UTC)
DUE = "31/03/2027"
REPORT_PATH = f"/distretto/relazioni/{YEAR}"
ATTACHMENT: FilePayload = {
    "name": "rendiconto-2026.pdf",
    "mimeType": "application/pdf",
    "buffer": b"%PDF-1.4\n% rendiconto delle attivita 2026\n%%EOF\n",
}
REMARKS = "Mancano gli indicatori di filiera: indicare il numero di imprese coinvolte nelle attività."
JOINED = roster_rows(1, employees=12, start=5000)[0]  # valid check digits, not yet in the roster
LEFT = vat(1000)  # the first enterprise of the roster that ``to_active`` filed


# ---- helpers ------------------------------------------------------------------------------------


def card_value(page: Page, term: str) -> Locator:
    """The <dd> of the page's summary card next to the <dt> ``term``."""
    return page.locator("dl.card dt", has_text=re.compile(rf"^{re.escape(term)}$")).locator(
        "xpath=following-sibling::dd[1]"
    )


def notice(page: Page, text: str) -> None:
    """The confirmation shown after a redirect (role=status)."""
    expect(page.get_by_role("status").filter(has_text=text)).to_be_visible()


def fill_report(page: Page, *, spending: str, kpi_value: str) -> None:
    """The report's form: two activities, one indicator, one enterprise in and one out, notes."""
    page.get_by_label("Attività svolta, riga 1").fill("Missione a Hannover Messe")
    page.get_by_label("Obiettivo del Programma, riga 1").fill("Internazionalizzazione")
    page.get_by_label("Descrizione, riga 1").fill("Dieci imprese allo stand collettivo")
    page.get_by_label("Spesa in euro, riga 1").fill(spending)
    page.get_by_label("Attività svolta, riga 2").fill("Laboratorio prove materiali")
    page.get_by_label("Obiettivo del Programma, riga 2").fill("Ricerca applicata")
    page.get_by_label("Stato, riga 2").select_option("in_corso")
    page.get_by_label("Indicatore, riga 1").fill("Quota di export")
    page.get_by_label("Valore, riga 1").fill(kpi_value)
    page.get_by_label("Obiettivo, riga 1").fill("40")
    page.get_by_label("Unità di misura, riga 1").fill("%")
    page.get_by_label("Imprese entrate").fill(";".join(str(JOINED[f]) for f in FIELDS))
    page.get_by_label("Imprese uscite").fill(LEFT)
    page.get_by_label("Note").fill("Anno positivo per la filiera.")


def transmit(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Trasmetti la relazione annuale").click()


def the_report(session: Session) -> AnnualReport:
    """The one report as stored now (``populate_existing``: not the copy read before); nothing else is
    expired, so nothing is reloaded lazily later."""
    [report] = fetch(session, select(AnnualReport).execution_options(populate_existing=True))
    assert isinstance(report, AnnualReport)
    return report


def board_counts(page: Page, section: int) -> Locator:
    """The cells of the board's row of ``section``: expected, filed (to review), overdue, accepted."""
    row = page.locator("#quadro tbody tr").filter(has=page.get_by_role("rowheader", name=re.compile(rf"^{section} –")))
    return row.locator("td")


def open_review(page: Page, base: str, district_name: str) -> None:
    """The official: the board of the year, then the district's report from the list."""
    page.goto(f"{base}/ufficio/relazioni")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Relazioni annuali sull'anno {YEAR}")
    page.locator("#elenco").get_by_role("link", name=district_name).click()
    page.wait_for_url(re.compile(r"/ufficio/relazioni/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Relazione annuale {YEAR} – {district_name}")


# ---- the journey --------------------------------------------------------------------------------


def test_representative_files_the_annual_report_and_the_office_reviews_it(
    live_server: LiveServer, page: Page, client: TestClient, auth: Http, people: People, session: Session
) -> None:
    to_active(client, auth, people)
    base, district = live_server.url, people.district.name

    # ---- the collection opens: the real sweep flow opens the district's report on 2026
    live_server.clock.now = OPENED
    day = local_date(OPENED)
    cycle = run_in_thread(annual_report_cycle, as_of=day)
    assert isinstance(cycle, ReportCycleReport)
    assert (cycle.as_of, cycle.year, cycle.opened, cycle.escalations) == (day, YEAR, 1, 0)
    assert cycle.reminders == 2  # the «opened» mail, to the district's PEC and to its representative
    report = the_report(session)
    assert (report.year, report.state, report.opened_on, report.due_on) == (
        YEAR, State.REPORT_OPEN, day, date(2027, 3, 31),
    )  # fmt: skip
    assert report.content == {} and report.filed_at is None

    # ---- the representative: due on the home page, with its deadline; the link opens the form
    live_server.clock.now = FILED
    login(page, base, people.rep)
    page.goto(f"{base}/distretto")
    todo = page.locator("ul.due li").filter(has_text=f"Trasmettere la Relazione annuale {YEAR}")
    expect(todo).to_contain_text(f"entro il {DUE}")
    expect(todo).to_contain_text("(tra 44 giorni)")
    listed = page.locator("tr").filter(has=page.get_by_role("link", name=f"Relazione {YEAR}", exact=True))
    expect(listed).to_contain_text("Relazione da presentare")
    shot(page, "relazione-annuale-1-home-distretto")
    todo.get_by_role("link", name=f"Trasmettere la Relazione annuale {YEAR}").click()
    page.wait_for_url(f"{base}{REPORT_PATH}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Relazione annuale {YEAR} – {district}")
    expect(card_value(page, "Stato")).to_have_text("Relazione da presentare")
    expect(card_value(page, "Scadenza")).to_have_text(DUE)
    assert unlabelled_fields(page) == []
    shot(page, "relazione-annuale-2-modulo")

    # attach first (the page says so: attaching reloads it)
    page.get_by_label("Allega un file").set_input_files(ATTACHMENT)
    with page.expect_navigation():
        page.get_by_role("button", name="Allega il file").click()
    notice(page, f"Allegato «{ATTACHMENT['name']}» aggiunto alla relazione {YEAR}.")
    expect(page.get_by_role("link", name=ATTACHMENT["name"])).to_be_visible()

    # invalid numbers: Italian errors naming row and field, those inputs marked, what was typed kept
    fill_report(page, spending="quarantamila", kpi_value="tanti")
    transmit(page)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Attività della riga 1, spesa sostenuta: deve essere un numero")
    expect(alert).to_contain_text("Indicatore della riga 1, valore: deve essere un numero")
    expect(page.get_by_label("Spesa in euro, riga 1")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Valore, riga 1")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Attività svolta, riga 1")).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Attività svolta, riga 1")).to_have_value("Missione a Hannover Messe")
    expect(page.get_by_label("Spesa in euro, riga 1")).to_have_value("quarantamila")
    expect(page.get_by_label("Stato, riga 2")).to_have_value("in_corso")
    expect(page.get_by_label("Imprese uscite")).to_have_value(LEFT)
    expect(page.get_by_label("Note")).to_have_value("Anno positivo per la filiera.")
    expect(card_value(page, "Stato")).to_have_text("Relazione da presentare")
    assert unlabelled_fields(page) == []
    shot(page, "relazione-annuale-3-errori")
    report = the_report(session)
    assert report.state == State.REPORT_OPEN and report.content == {} and report.filed_at is None

    # corrected, in Italian number formats, and transmitted
    page.get_by_label("Spesa in euro, riga 1").fill("42.000,50")
    page.get_by_label("Valore, riga 1").fill("38,5")
    transmit(page)
    page.wait_for_url(f"{base}{REPORT_PATH}")
    notice(page, f"Relazione annuale {YEAR} trasmessa all'ufficio regionale.")
    expect(card_value(page, "Stato")).to_have_text("Relazione presentata")
    expect(card_value(page, "Trasmessa il")).to_have_text("15/02/2027 10:00")  # Rome time
    expect(page.get_by_role("heading", name="Contenuto trasmesso")).to_be_visible()
    activities = page.get_by_role("table", name="Attività svolte")
    expect(activities.get_by_role("row")).to_have_count(3)  # the header and two activities
    expect(activities).to_contain_text("Missione a Hannover Messe")
    expect(activities).to_contain_text("Laboratorio prove materiali")
    expect(page.get_by_role("table", name="Indicatori")).to_contain_text("Quota di export")
    expect(page.get_by_text("Imprese entrate: 1; imprese uscite: 1.")).to_be_visible()
    expect(page.get_by_text("Anno positivo per la filiera.")).to_be_visible()
    expect(page.get_by_role("button", name="Trasmetti la relazione annuale")).to_have_count(0)
    expect(page.get_by_label("Allega un file")).to_have_count(0)  # no attachments once filed
    shot(page, "relazione-annuale-4-trasmessa")
    report = the_report(session)
    assert report.state == State.REPORT_FILED and report.filed_at == FILED
    logout(page)

    # ---- the official: the board counts it filed; the review returns it with remarks
    live_server.clock.now = RETURNED
    login(page, base, people.official)
    page.goto(f"{base}/ufficio/relazioni")
    section = people.district.section
    expect(board_counts(page, section)).to_have_text(["1", "1", "0", "0"])
    expect(page.get_by_role("link", name=f"Sezione {section}, presentate da esaminare: 1")).to_be_visible()
    expect(page.locator("#elenco tbody tr")).to_have_count(1)
    expect(page.locator("#elenco tbody tr")).to_contain_text("Relazione presentata")
    assert unlabelled_fields(page) == []
    shot(page, "relazione-annuale-5-quadro-ufficio")
    open_review(page, base, district)
    expect(card_value(page, "Stato")).to_have_text("Relazione presentata")
    expect(card_value(page, "Presentata il")).to_have_text("15/02/2027 10:00 (nei termini)")
    expect(page.get_by_role("row", name=re.compile("Missione a Hannover Messe"))).to_contain_text("42.000,50")
    expect(page.get_by_role("row", name=re.compile("Quota di export"))).to_contain_text("38,5 %")
    expect(page.get_by_role("table", name="Imprese entrate (1)")).to_contain_text(str(JOINED["name"]))
    expect(page.get_by_text(f"Imprese uscite (1): {LEFT}")).to_be_visible()
    expect(page.get_by_role("link", name=ATTACHMENT["name"])).to_be_visible()
    assert unlabelled_fields(page) == []
    shot(page, "relazione-annuale-6-esame")
    page.get_by_label("Osservazioni per il distretto").fill(REMARKS)
    with page.expect_navigation():
        page.get_by_role("button", name="Restituisci la relazione").click()
    live_server.settle()
    notice(page, "Relazione restituita al distretto con le osservazioni.")
    expect(card_value(page, "Stato")).to_have_text("Relazione da presentare")
    expect(page.get_by_text(REMARKS)).to_be_visible()
    expect(page.get_by_role("button", name="Accetta la relazione")).to_have_count(0)
    report = the_report(session)
    assert report.state == State.REPORT_OPEN and report.remarks == REMARKS and report.reviewed_at == RETURNED
    logout(page)

    # ---- the representative: the remarks, the form filled with what was filed; files it again
    live_server.clock.now = FILED_AGAIN
    login(page, base, people.rep)
    page.goto(f"{base}/distretto")
    expect(page.locator("tr").filter(has_text=f"Relazione {YEAR}")).to_contain_text("restituita con osservazioni")
    page.get_by_role("link", name=f"Relazione {YEAR}", exact=True).click()
    page.wait_for_url(f"{base}{REPORT_PATH}")
    returned = page.get_by_role("status").filter(has_text="restituita con osservazioni")
    expect(returned).to_contain_text(REMARKS)
    expect(page.get_by_label("Attività svolta, riga 1")).to_have_value("Missione a Hannover Messe")
    expect(page.get_by_label("Spesa in euro, riga 1")).to_have_value("42000,5")
    expect(page.get_by_label("Valore, riga 1")).to_have_value("38,5")
    expect(page.get_by_label("Stato, riga 2")).to_have_value("in_corso")
    expect(page.get_by_role("link", name=ATTACHMENT["name"])).to_be_visible()  # the attachment stays
    assert unlabelled_fields(page) == []
    shot(page, "relazione-annuale-7-restituita")
    page.get_by_label("Indicatore, riga 2").fill("Imprese coinvolte nelle attività")
    page.get_by_label("Valore, riga 2").fill("34")
    page.get_by_label("Obiettivo, riga 2").fill("30")
    page.get_by_label("Unità di misura, riga 2").fill("imprese")
    transmit(page)
    notice(page, f"Relazione annuale {YEAR} trasmessa all'ufficio regionale.")
    expect(card_value(page, "Stato")).to_have_text("Relazione presentata")
    expect(page.get_by_role("table", name="Indicatori")).to_contain_text("Imprese coinvolte nelle attività")
    logout(page)

    # ---- the official accepts it
    live_server.clock.now = ACCEPTED
    login(page, base, people.official)
    open_review(page, base, district)
    expect(page.get_by_role("row", name=re.compile("Imprese coinvolte"))).to_contain_text("34 imprese")
    with page.expect_navigation():
        page.get_by_role("button", name="Accetta la relazione").click()
    live_server.settle()
    notice(page, "Relazione accettata.")
    expect(card_value(page, "Stato")).to_have_text("Relazione accettata")
    expect(card_value(page, "Esaminata il")).to_have_text("22/02/2027 10:00")
    expect(page.get_by_role("heading", name="Esame della relazione")).to_have_count(0)
    shot(page, "relazione-annuale-8-accettata")
    page.goto(f"{base}/ufficio/relazioni")
    expect(board_counts(page, section)).to_have_text(["1", "0", "0", "1"])
    logout(page)

    # ---- what is stored: the report, its attachment, the mails queued
    report = the_report(session)
    assert report.state == State.REPORT_ACCEPTED
    assert (report.filed_at, report.reviewed_at) == (FILED_AGAIN, ACCEPTED)
    content = report.content
    assert [a["title"] for a in content["activities"]] == ["Missione a Hannover Messe", "Laboratorio prove materiali"]
    assert content["activities"][0]["spending_eur"] == 42000.5
    assert content["activities"][1]["status"] == "in_corso" and content["activities"][1]["spending_eur"] is None
    assert content["kpis"] == [
        {"code": "quota_di_export", "label": "Quota di export", "value": 38.5, "target": 40.0, "unit": "%"},
        {
            "code": "imprese_coinvolte_nelle_attivit",
            "label": "Imprese coinvolte nelle attività",
            "value": 34.0,
            "target": 30.0,
            "unit": "imprese",
        },
    ]
    assert content["roster_changes"]["left"] == [LEFT]
    [joined] = content["roster_changes"]["joined"]
    assert joined["tax_code"] == JOINED["tax_code"] and joined["name"] == JOINED["name"]
    assert content["notes"] == "Anno positivo per la filiera."
    [document] = fetch(session, select(Document).where(col(Document.annual_report_id) == report.id))
    assert (document.filename, document.content_type, document.size) == (
        ATTACHMENT["name"], "application/pdf", len(ATTACHMENT["buffer"]),
    )  # fmt: skip

    mails = fetch(session, select(Notification).where(col(Notification.kind).startswith("report_")))
    sent: dict[str, set[str]] = {}
    for mail in mails:
        sent.setdefault(mail.kind, set()).add(mail.recipient)
    district_addresses = {people.district.pec_email, people.rep.email}
    assert sent == {
        "report_due": district_addresses,  # the sweep: the report is open
        "report_filed": {people.official.email},  # both filings, to the responsible official
        "report_returned": district_addresses,
    }
    assert sum(1 for m in mails if m.kind == "report_filed") == 2
    assert all(REMARKS in m.body_text for m in mails if m.kind == "report_returned")
