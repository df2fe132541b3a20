"""The officials' pages: the dashboard (each figure linking to exactly its items), the work list (filters,
search by name, protocol and tax code, pagination, bad filters), competence by office, the statistics.

The test clock reads Monday 2 March 2026; the procedure term is 30 days, term warnings start 10 days
before the deadline, validity warnings 180 days before the end of validity (Puglia profile).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from html import unescape
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.application import Application, ProtocolEntry
from models.district import District, MemberEnterprise
from models.enums import Event, State
from models.registry import AnnualReport, RegistryEntry
from tests.api_support import People, fetch
from tests.factories import Factory, Journey
from tests.pages_support import page_login

LIST = "/ufficio/pratiche"


def at(day: date) -> datetime:
    return datetime.combine(day, time(9, 30), tzinfo=UTC)


def started(factory: Factory, *, section: int = 1, submitted: date, name: str = "") -> Journey:
    """An application submitted on ``submitted`` and under review the day after."""
    j = Journey(factory, section=section)
    if name:
        j.district.name = name
        factory.session.add(j.district)
    j.day = at(submitted)
    j.do(Event.SUBMIT, days_later=0)
    j.do(Event.START_REVIEW)
    return j


def report(session: Session, j: Journey, year: int, state: State, due_on: date, filed: date | None = None) -> None:
    entry = session.exec(select(RegistryEntry).where(RegistryEntry.application_id == j.app.id)).one()
    session.add(
        AnnualReport(
            registry_entry_id=entry.id, application_id=j.app.id, year=year, state=state,
            opened_on=date(year + 1, 1, 1), due_on=due_on, filed_at=at(filed) if filed else None,
        )
    )  # fmt: skip
    session.commit()


@dataclass
class Scene:
    draft: Application  # its representative's only: in no list or count of the office (models.access)
    submitted: Journey  # not yet under review: no responsible official
    overdue: Journey
    lapsing: Journey
    within: Journey
    integration: Journey
    active: Journey
    agri_overdue: Journey


@pytest.fixture
def scene(factory: Factory, session: Session, people: People) -> Scene:
    draft = factory.application(people.district, enterprises=2)
    submitted = Journey(factory)
    submitted.day = at(date(2026, 2, 27))
    submitted.do(Event.SUBMIT, days_later=0)  # deadline 30/03
    overdue = started(factory, submitted=date(2026, 1, 12), name="Distretto della ceramica")  # deadline 11/02
    lapsing = started(factory, submitted=date(2026, 2, 2))  # deadline 04/03: 2 days left
    within = started(factory, section=2, submitted=date(2026, 2, 20))  # deadline 23/03: 21 days left
    integration = started(factory, submitted=date(2026, 1, 26))
    integration.do(Event.REQUEST_INTEGRATION, missing_items=["patto firmato"], deadline_days=10)  # due 07/02
    active = Journey(factory, section=1)
    active.day = at(date(2023, 3, 1))
    active.to_active()
    entry = session.exec(select(RegistryEntry).where(RegistryEntry.application_id == active.app.id)).one()
    entry.valid_until = date(2026, 5, 31)  # within 180 days
    session.add(entry)
    session.commit()
    report(session, active, 2024, State.REPORT_OPEN, date(2025, 3, 31))  # overdue
    report(session, active, 2025, State.REPORT_OPEN, date(2026, 3, 31))  # not yet due
    agri_overdue = started(factory, section=6, submitted=date(2026, 1, 5))
    return Scene(draft, submitted, overdue, lapsing, within, integration, active, agri_overdue)


def test_search_ignores_accents_and_case(client: TestClient, people: People, scene: Scene, session: Session) -> None:
    lecce = session.get(District, scene.lapsing.app.district_id)
    caffe = session.get(District, scene.within.app.district_id)
    assert lecce is not None and caffe is not None
    lecce.representative_org = "Società Cooperativa Città di Lecce"
    caffe.name = "Distretto del caffè salentino"
    session.add_all([lecce, caffe])
    session.commit()
    page_login(client, people.official)
    for typed in ("citta", "CITTÀ", "Città", "societa cooperativa citta di lecce", "SOCIETÀ"):
        assert listed(client, f"{LIST}?q={quote(typed)}") == (1, [scene.lapsing.app.id]), typed
    for typed in ("caffe", "CAFFÈ", "caffé"):
        assert listed(client, f"{LIST}?q={quote(typed)}") == (1, [scene.within.app.id]), typed
    assert listed(client, f"{LIST}?q={quote('citt_')}") == (0, [])  # "_" is a plain character too


def links(html: str) -> dict[str, str]:
    """Every link of the page: its text (tags and spaces folded) → its address."""
    found = {}
    for href, text in re.findall(r'<a href="([^"]+)"[^>]*>(.*?)</a>', html, flags=re.S):
        found[" ".join(unescape(re.sub(r"<[^>]+>", " ", text)).split())] = unescape(href)
    return found


def listed(client: TestClient, url: str) -> tuple[int, list[int]]:
    """The work list's «N pratiche» and the ids of the applications on the page, in order."""
    response = client.get(url)
    assert response.status_code == 200, response.text
    total = re.search(r"<strong>(\d+) pratich?[ae]</strong>", response.text)
    assert total, response.text
    return int(total.group(1)), [int(i) for i in re.findall(r'href="/pratiche/(\d+)"', response.text)]


# ---- access --------------------------------------------------------------------------------


def test_access(client: TestClient, people: People) -> None:
    for url in ("/ufficio", LIST, "/ufficio/statistiche"):
        anonymous = client.get(url, follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/accesso?dopo=")
    page_login(client, people.rep)
    for url in ("/ufficio", LIST, "/ufficio/statistiche"):
        refused = client.get(url)
        assert refused.status_code == 403 and "non è disponibile per il suo profilo" in refused.text
    client.cookies.clear()
    page_login(client, people.members[0])
    assert client.get("/ufficio").status_code == 403
    for user in (people.official, people.head, people.admin):
        client.cookies.clear()
        landing = page_login(client, user)
        assert landing.url.path == "/ufficio" and "<h1>Cruscotto dell'ufficio</h1>" in landing.text


# ---- dashboard -----------------------------------------------------------------------------


def test_dashboard_counts_link_to_exactly_their_items(client: TestClient, people: People, scene: Scene) -> None:
    page_login(client, people.official)
    html = client.get("/ufficio").text
    assert "Pratiche di competenza: sezioni 1, 2, 3, 4 e 5." in html
    found = links(html)
    assert found["1 Termini in scadenza"] == f"{LIST}?termine=in_scadenza"
    assert found["1 Termini scaduti"] == f"{LIST}?scaduti=1"
    assert found["1 Integrazioni scadute"] == f"{LIST}?integrazione=scaduta"
    assert found["1 Iscrizioni in scadenza"] == f"{LIST}?validita=in_scadenza"
    assert found["1 Relazioni annuali scadute"] == "/ufficio/relazioni?anno=2024&stato=report_open&scaduti=1"
    assert "entro 10 giorni" in html and "entro 180 giorni" in html
    assert found["0 Comunicazioni non recapitate"] == "/ufficio/comunicazioni?stato=failed"
    stages = re.findall(r'<th scope="row">([^<]+)</th><td class="num"><a href="([^"]+)"[^>]*>(\d+)</a>', html)
    assert stages == [  # no draft: those are their representatives' (models.access)
        ("Presentata", f"{LIST}?stato=submitted", "1"),
        ("Verifica di completezza", f"{LIST}?stato=completeness_check", "3"),
        ("Integrazione richiesta", f"{LIST}?stato=integration_requested", "1"),
        ("Attivo nel registro", f"{LIST}?stato=active", "1"),
        ("Totale", LIST, "6"),
    ]
    # each figure is exactly the length of the list it links to
    assert listed(client, f"{LIST}?termine=in_scadenza") == (1, [scene.lapsing.app.id])
    assert listed(client, f"{LIST}?scaduti=1") == (1, [scene.overdue.app.id])
    assert listed(client, f"{LIST}?integrazione=scaduta") == (1, [scene.integration.app.id])
    assert listed(client, f"{LIST}?validita=in_scadenza") == (1, [scene.active.app.id])
    assert listed(client, f"{LIST}?stato=completeness_check")[0] == 3
    narrowed = client.get(f"{LIST}?termine=in_scadenza").text  # the form keeps the dashboard's filter
    assert '<input type="hidden" name="termine" value="in_scadenza">' in narrowed
    assert "Solo le pratiche con termine del procedimento in scadenza." in narrowed
    client.cookies.clear()
    page_login(client, people.head)
    assert client.get("/ufficio").text.count('class="figure"') == 6  # with the mails not delivered
    assert links(client.get("/ufficio").text)["1 Termini scaduti"] == f"{LIST}?scaduti=1"


def test_dashboard_of_agriculture_counts_only_its_sections(client: TestClient, people: People, scene: Scene) -> None:
    page_login(client, people.official_agri)
    html = client.get("/ufficio").text
    assert "Pratiche di competenza: sezioni 6 e 7." in html
    found = links(html)
    assert found["1 Termini scaduti"] == f"{LIST}?scaduti=1"
    assert found["0 Termini in scadenza"] == f"{LIST}?termine=in_scadenza"
    assert found["0 Integrazioni scadute"] == f"{LIST}?integrazione=scaduta"
    assert found["0 Iscrizioni in scadenza"] == f"{LIST}?validita=in_scadenza"
    assert found["0 Relazioni annuali scadute"] == "/ufficio/relazioni?stato=report_open&scaduti=1"
    assert listed(client, LIST) == (1, [scene.agri_overdue.app.id])
    assert listed(client, f"{LIST}?scaduti=1") == (1, [scene.agri_overdue.app.id])
    client.cookies.clear()
    page_login(client, people.admin)
    assert links(client.get("/ufficio").text)["2 Termini scaduti"] == f"{LIST}?scaduti=1"
    assert listed(client, f"{LIST}?scaduti=1")[0] == 2
    assert listed(client, f"{LIST}?ufficio=agricoltura") == (1, [scene.agri_overdue.app.id])


# ---- work list -----------------------------------------------------------------------------


def test_work_list_table_and_filters(client: TestClient, people: People, scene: Scene, session: Session) -> None:
    page_login(client, people.official)
    html = client.get(LIST).text
    assert "<h1>Pratiche</h1>" in html and '<label for="stato">Fase</label>' in html
    assert '<label for="responsabile">Responsabile del procedimento</label>' in html
    total, ids = listed(client, LIST)
    assert total == 6 and scene.agri_overdue.app.id not in ids
    row = html[html.index("Distretto della ceramica") : html.index(f'href="/pratiche/{scene.overdue.app.id}"')]
    protocol = fetch(session, select(ProtocolEntry).where(ProtocolEntry.id == scene.overdue.app.protocol_id))[0]
    assert protocol.label in row and "Riconoscimento" in row and "1 – Distretti produttivi" in row
    assert "Verifica di completezza" in row and scene.overdue.official.full_name in row
    assert "Oltre il termine" in row and "scadenza 11/02/2026" in row
    lapsing_row = html[: html.index(f'href="/pratiche/{scene.lapsing.app.id}"')].rsplit("<tr>", 1)[1]
    assert "di 30 giorni usati, 2 rimasti" in lapsing_row and "Oltre il termine" not in lapsing_row
    assert listed(client, f"{LIST}?sezione=2") == (1, [scene.within.app.id])
    assert listed(client, f"{LIST}?stato=draft") == (0, [])  # a draft is its representative's only
    assert listed(client, f"{LIST}?ufficio=ricerca")[0] == 6
    assert listed(client, f"{LIST}?ufficio=agricoltura") == (0, [])  # outside competence: nothing
    assert listed(client, f"{LIST}?sezione=6") == (0, [])
    mine = listed(client, f"{LIST}?responsabile={scene.lapsing.official.id}")
    assert mine == (1, [scene.lapsing.app.id])
    assert listed(client, f"{LIST}?responsabile=nessuno") == (1, [scene.submitted.app.id])
    combined = listed(client, f"{LIST}?stato=completeness_check&scaduti=1&sezione=1")
    assert combined == (1, [scene.overdue.app.id])
    assert listed(client, f"{LIST}?stato=draft&scaduti=1") == (0, [])
    chosen = client.get(f"{LIST}?stato=draft&sezione=2").text
    assert '<option value="draft" selected>' in chosen and '<option value="2" selected>' in chosen


def test_search_by_name_protocol_and_tax_code(
    client: TestClient, people: People, scene: Scene, session: Session
) -> None:
    page_login(client, people.official)
    assert listed(client, f"{LIST}?q=ceramica") == (1, [scene.overdue.app.id])
    assert listed(client, f"{LIST}?q=CERAMICA") == (1, [scene.overdue.app.id])
    assert listed(client, f"{LIST}?q=%25") == (0, [])  # a wildcard is a plain character
    protocol = fetch(session, select(ProtocolEntry).where(ProtocolEntry.id == scene.lapsing.app.protocol_id))[0]
    assert listed(client, f"{LIST}?q={protocol.label}") == (1, [scene.lapsing.app.id])
    assert listed(client, f"{LIST}?q={protocol.year}/{protocol.number}") == (1, [scene.lapsing.app.id])
    roster = select(MemberEnterprise).where(MemberEnterprise.application_id == scene.within.app.id)
    member = fetch(session, roster.order_by(col(MemberEnterprise.row_no)))[0]
    assert listed(client, f"{LIST}?q={member.tax_code.lower()}") == (1, [scene.within.app.id])
    assert listed(client, f"{LIST}?q={member.vat_number}&stato=completeness_check") == (1, [scene.within.app.id])
    agri = fetch(session, select(MemberEnterprise).where(MemberEnterprise.application_id == scene.agri_overdue.app.id))[
        0
    ]
    assert listed(client, f"{LIST}?q={agri.tax_code}") == (0, [])  # another office's file stays hidden
    page = client.get(f"{LIST}?q=ceramica")
    assert 'value="ceramica"' in page.text


def test_pagination_keeps_the_filters(client: TestClient, people: People, factory: Factory) -> None:
    def submitted(district: District) -> int:
        application = factory.application(district, enterprises=1)
        application.state = State.SUBMITTED  # set straight: the list only reads the state
        factory.session.add(application)
        factory.session.commit()
        return application.id or 0

    files = sorted((submitted(people.district) for _ in range(27)), reverse=True)
    submitted(people.agri_district)
    page_login(client, people.official)
    first = client.get(f"{LIST}?stato=submitted&sezione=1")
    total, ids = listed(client, f"{LIST}?stato=submitted&sezione=1")
    assert total == 27 and len(ids) == 25 and "pagina 1 di 2" in first.text
    assert ids == files[:25]
    found = links(first.text)
    assert found["Pagina successiva"] == f"{LIST}?stato=submitted&sezione=1&pagina=2"
    assert "Pagina precedente" not in found
    second = client.get(found["Pagina successiva"])
    total, ids = listed(client, found["Pagina successiva"])
    assert total == 27 and ids == files[25:]
    assert links(second.text)["Pagina precedente"] == f"{LIST}?stato=submitted&sezione=1"
    assert "Pagina successiva" not in links(second.text)


def test_bad_filters_are_named(client: TestClient, people: People) -> None:
    page_login(client, people.official)
    bad = client.get(f"{LIST}?stato=sospesa&sezione=99&ufficio=pesca&scaduti=si&pagina=0&responsabile=x")
    assert bad.status_code == 422
    for reason in (
        "stato «sospesa» sconosciuto", "sezione «99» inesistente", "ufficio «pesca» sconosciuto",
        "scaduti «si» non valido", "pagina «0» non valida", "responsabile «x» non valido",
    ):  # fmt: skip
        assert reason in bad.text, reason
    assert client.get(f"{LIST}?termine=domani").status_code == 422
    assert client.get(f"{LIST}?stato=report_open").status_code == 422  # a report state, not an application's
    assert client.get(f"{LIST}?q={'x' * 101}").status_code == 422
    # «²» is a digit to str.isdigit and not to int(): once a 500 on each of these
    for query in ("sezione=²", "pagina=²", "responsabile=²", "responsabile=¹²", "q=²"):
        assert client.get(f"{LIST}?{query}").status_code in (200, 422), query
    assert client.get("/ufficio/relazioni?anno=²").status_code == 422


# ---- statistics ----------------------------------------------------------------------------


def test_statistics_figures(client: TestClient, people: People, factory: Factory, session: Session) -> None:
    early = Factory(session=session, profile=factory.profile, now=at(date(2026, 1, 5)))
    first = Journey(early)  # created 05/01
    first.do(Event.SUBMIT, days_later=2)  # draft 2 days
    first.do(Event.START_REVIEW, days_later=4)  # submitted 4 days
    first.do(Event.DECLARE_INADMISSIBLE, days_later=6, reason="requisiti non dimostrati")  # check 6 days
    second = Journey(early)
    second.do(Event.SUBMIT, days_later=4)
    second.do(Event.START_REVIEW, days_later=2)  # submitted 13/01: deadline 12/02, now over
    hidden = Journey(early, section=6)
    hidden.do(Event.SUBMIT, days_later=10)
    active = Journey(Factory(session=session, profile=factory.profile, now=at(date(2024, 1, 8))))
    active.to_active()
    other = Journey(Factory(session=session, profile=factory.profile, now=at(date(2024, 1, 8))))
    other.to_active()
    report(session, active, 2024, State.REPORT_ACCEPTED, date(2025, 3, 31), filed=date(2025, 3, 20))  # on time
    report(session, other, 2024, State.REPORT_FILED, date(2025, 3, 31), filed=date(2025, 4, 15))  # late
    report(session, active, 2025, State.REPORT_OPEN, date(2026, 3, 31))  # not yet due
    report(session, other, 2023, State.REPORT_OPEN, date(2024, 3, 31))  # overdue
    page_login(client, people.official)
    response = client.get("/ufficio/statistiche")
    assert response.status_code == 200
    html = response.text
    assert html.count('<svg class="chart" role="img"') == 4
    assert '<title id="grafico-fasi-t">Pratiche per fase</title>' in html and 'aria-labelledby="grafico-fasi-t' in html
    assert "Dati delle sezioni 1, 2, 3, 4 e 5" in html
    assert table(html, "Pratiche per fase") == [
        ["Verifica di completezza", "1"], ["Inammissibile", "1"], ["Attivo nel registro", "2"], ["Totale", "4"],
    ]  # fmt: skip
    durations = {r[0]: (r[1], r[2]) for r in table(html, "Giorni medi di permanenza per fase")}
    assert durations["Bozza"] == ("4", "2")  # 2, 4 and the two active ones (1 each)
    assert durations["Presentata"] == ("4", "2")  # 4, 2, 1, 1
    assert durations["Verifica di completezza"] == ("3", "2,7")  # 6, 1, 1
    assert "Valutazione del comitato" in durations and "Integrazione richiesta" not in durations
    times = {r[0]: r[1:] for r in table(html, "Tempi dei procedimenti per anno")}
    assert times["2026"] == ["1", "0", "0", "1", "2", "10"]  # closed within (07/01 → 17/01), open over
    assert times["2024"][:4] == ["2", "0", "0", "0"]
    reports = {r[0]: r[1:] for r in table(html, "Relazioni annuali per anno")}
    assert reports == {
        "2023": ["0", "0", "1", "0", "1"],
        "2024": ["1", "1", "0", "0", "2"],
        "2025": ["0", "0", "0", "1", "1"],
    }
    assert 'href="/ufficio/relazioni?anno=2023&amp;stato=report_open&amp;scaduti=1"' in html
    client.cookies.clear()
    page_login(client, people.official_agri)
    agri = client.get("/ufficio/statistiche").text
    assert dict(tuple(r) for r in table(agri, "Pratiche per fase")) == {"Presentata": "1", "Totale": "1"}
    assert "Nessun dato da rappresentare." in agri  # no reports, no closed stays in its sections


def table(html: str, caption: str) -> list[list[str]]:
    """The body and footer rows of the table with this caption, as text."""
    start = html.index(f"<caption>{caption}</caption>")
    body = html[start : html.index("</table>", start)]
    body = body[body.index("</thead>") :]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    return [
        [
            " ".join(unescape(re.sub(r"<[^>]+>", " ", c)).split())
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, flags=re.S)
        ]
        for r in rows
    ]
