"""In a real browser: the public registry (filter, district card) and an official's login."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, select

from flows.sweeps import annual_report_cycle
from models.application import Application, StageAction
from models.base import local_date
from models.enums import ActionStatus, Role, State
from tasks.report_cycle import ReportCycleReport
from tests.api_support import API, Http, People, draft_ready, fetch, to_active
from tests.browser.conftest import TIMEOUT_S, LiveServer, login, logout, run_in_thread, shot, unlabelled_fields
from tests.factories import PASSWORD, Factory

pytestmark = pytest.mark.browser


def test_registry_filter_card_and_official_login(
    live_server: LiveServer, page: Page, client: TestClient, auth: Http, people: People, factory: Factory
) -> None:
    # two active districts in two sections of the same office, through the API (stand-in flows)
    to_active(client, auth, people)
    transnational = factory.district(section=3, name="Distretto transnazionale dell'aerospazio")
    to_active(client, auth, people, representative=factory.user(Role.REPRESENTATIVE, district=transnational))
    mechanics = people.district.name

    # the public registry, no login
    response = page.goto(f"{live_server.url}/registro")
    assert response is not None and response.status == 200
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.locator("html").get_attribute("lang") == "it"
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_role("link", name=mechanics)).to_be_visible()
    expect(page.get_by_role("link", name=transnational.name)).to_be_visible()
    assert unlabelled_fields(page) == []
    shot(page, "registro")

    # the section filter: select, submit, only that section's district is left
    page.get_by_label("Sezione").select_option("3")
    page.get_by_role("button", name="Filtra").click()
    page.wait_for_url(re.compile(r"/registro\?sezione=3"))
    expect(rows).to_have_count(1)
    expect(page.get_by_role("link", name=transnational.name)).to_be_visible()
    expect(page.get_by_role("link", name=mechanics)).to_have_count(0)
    expect(page.get_by_label("Sezione")).to_have_value("3")  # the choice stays selected
    shot(page, "registro-filtrato")

    page.get_by_label("Sezione").select_option("6")
    page.get_by_role("button", name="Filtra").click()
    page.wait_for_url(re.compile(r"sezione=6"))
    expect(page.get_by_text("Nessun distretto corrisponde ai filtri scelti.")).to_be_visible()

    # the district's public card, by its link
    page.get_by_label("Sezione").select_option("")
    page.get_by_role("button", name="Filtra").click()
    page.get_by_role("link", name=mechanics).click()
    page.wait_for_url(re.compile(rf"/registro/{people.district.id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(mechanics)
    card = page.locator("dl.card")
    expect(card).to_contain_text(people.district.representative_org)
    expect(card).to_contain_text("Determinazione dirigenziale")
    expect(card).to_contain_text("BURP n. 1")
    shot(page, "scheda-distretto")

    # login: the header's link, a wrong password first (Italian error, still on the form)
    page.get_by_role("link", name="Area riservata").click()
    page.wait_for_url(re.compile(r"/accesso"))
    assert unlabelled_fields(page) == []
    page.get_by_label("Nome utente").fill(people.official.username)
    page.get_by_label("Password").fill("password-sbagliata")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/accesso")) as answer:
        page.get_by_role("button", name="Accedi").click()
    assert answer.value.status == 401
    expect(page.get_by_role("alert")).to_contain_text("nome utente o password non corretti")
    expect(page.get_by_label("Nome utente")).to_have_value(people.official.username)
    assert page.locator("html").get_attribute("lang") == "it"
    shot(page, "accesso-password-errata")

    login(page, live_server.url, people.official)
    assert page.url.startswith(f"{live_server.url}/ufficio")  # an official lands on the office's pages
    shot(page, "ufficio-dopo-accesso")
    page.goto(f"{live_server.url}/registro")  # public pages show who is logged in
    expect(page.locator("header.site")).to_contain_text(people.official.full_name)
    expect(page.get_by_role("link", name="Area riservata")).to_have_count(0)

    logout(page)
    expect(page.get_by_role("status")).to_contain_text("Uscita effettuata.")
    expect(page.get_by_role("link", name="Area riservata")).to_be_visible()


def test_the_live_server_runs_the_real_stage_flows_on_its_clock(
    live_server: LiveServer, browser: Browser, client: TestClient, auth: Http, people: People, session: Session
) -> None:
    """The wiring the journeys rely on: an action accepted by the live server runs its Prefect flow;
    a sweep flow called by the test runs too, beside Playwright's event loop (``browser``)."""
    app_id = draft_ready(client, auth(people.rep))  # a draft starts no flow: set up through the stand-in app
    live_server.clock.advance(days=1)
    with httpx.Client(base_url=live_server.url, timeout=TIMEOUT_S) as http:
        token = http.post(f"{API}/auth/token", data={"username": people.rep.username, "password": PASSWORD})
        assert token.status_code == 200, token.text
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        accepted = http.post(f"{API}/applications/{app_id}/actions/submit", headers=bearer)
    assert accepted.status_code == 202, accepted.text
    live_server.settle()

    [action] = fetch(session, select(StageAction).where(StageAction.id == accepted.json()["action"]["id"]))
    assert action.status == ActionStatus.DONE, action.error
    assert action.flow_run_id is not None
    uuid.UUID(action.flow_run_id)  # a Prefect flow run, not the stand-in's "test-run-<id>"
    assert action.requested_at == live_server.clock.now
    [application] = fetch(session, select(Application).where(Application.id == app_id))
    assert application.state == State.SUBMITTED

    day = local_date(live_server.clock.now)
    report = run_in_thread(annual_report_cycle, as_of=day)
    assert isinstance(report, ReportCycleReport) and report.as_of == day
