"""Every error is JSON in Italian: unknown routes, wrong methods, database trouble, the unexpected."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError, OperationalError

from api.main import create_app


def _app_with_failing_routes() -> FastAPI:
    app = create_app()

    @app.get("/api/v1/boom/integrity")
    def integrity() -> None:
        raise IntegrityError("INSERT ...", {}, Exception("UNIQUE constraint failed"))

    @app.get("/api/v1/boom/db-down")
    def db_down() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    @app.get("/api/v1/boom/bug")
    def bug() -> None:
        raise ZeroDivisionError("division by zero")

    @app.get("/pagina-guasta/db-down")
    def page_db_down() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    @app.get("/pagina-guasta/bug")
    def page_bug() -> None:
        raise ZeroDivisionError("division by zero")

    return app


def test_framework_errors_are_italian_json(client: TestClient) -> None:
    missing = client.get("/api/v1/nessuna-risorsa")
    assert missing.status_code == 404 and missing.json() == {"detail": "risorsa non trovata", "code": "non_trovato"}
    method = client.delete("/api/v1/registry")
    assert method.status_code == 405 and method.json()["code"] == "metodo_non_consentito"
    assert method.headers["allow"] == "GET"


def test_a_405_names_every_method_of_the_address() -> None:
    """Starlette's own 405 names only the first route's methods (GET and PATCH share this address)."""
    client = TestClient(_app_with_failing_routes())
    answer = client.options("/api/v1/applications/1")
    assert answer.status_code == 405 and answer.headers["allow"] == "GET, PATCH"
    assert client.request("PUT", "/api/v1/applications/1/actions/submit").headers["allow"] == "POST"
    assert client.delete("/static/registro.css").headers["allow"] == "GET, HEAD"  # a mounted app


def test_database_and_unexpected_errors_never_leak_a_trace() -> None:
    client = TestClient(_app_with_failing_routes(), raise_server_exceptions=False)
    conflict = client.get("/api/v1/boom/integrity")
    assert conflict.status_code == 409 and conflict.json()["code"] == "conflitto"
    down = client.get("/api/v1/boom/db-down")
    assert down.status_code == 503 and "non è al momento raggiungibile" in down.json()["detail"]
    bug = client.get("/api/v1/boom/bug")
    assert bug.status_code == 500
    assert bug.json() == {
        "detail": "errore interno imprevisto: l'operazione non è stata eseguita",
        "code": "errore_interno",
    }
    assert "Traceback" not in bug.text and "ZeroDivision" not in bug.text


def test_openapi_is_served_in_italian() -> None:
    client = TestClient(create_app())
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "Registro dei distretti produttivi"
    operation = schema["paths"]["/api/v1/applications/{application_id}/actions/request_integration"]["post"]
    assert operation["summary"].startswith("Esito: richiesta di integrazioni")
    assert "409" in operation["responses"]
    assert client.get("/docs").status_code == 200


def test_root_leads_to_the_public_registry(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/registro"


def test_a_page_shows_the_same_errors_as_an_italian_page() -> None:
    client = TestClient(_app_with_failing_routes(), raise_server_exceptions=False)
    down = client.get("/pagina-guasta/db-down")
    assert down.status_code == 503 and down.headers["content-type"].startswith("text/html")
    assert (
        "non è al momento raggiungibile" in down.text
        and "<h1>Servizio momentaneamente non disponibile</h1>" in down.text
    )
    bug = client.get("/pagina-guasta/bug")
    assert bug.status_code == 500 and bug.headers["content-type"].startswith("text/html")
    assert "errore interno imprevisto" in bug.text
    assert "Traceback" not in bug.text and "ZeroDivision" not in bug.text
    missing = client.get("/pagina-che-non-esiste")
    assert missing.status_code == 404 and "<h1>Pagina non trovata</h1>" in missing.text


def test_a_body_too_deep_to_parse_gets_an_italian_400(client: TestClient) -> None:
    deep = "[" * 200_000 + "]" * 200_000
    response = client.post("/api/v1/auth/password", content=deep, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text  # parsed before anything else: English until now
    assert response.json()["detail"] == "il corpo della richiesta non è leggibile (JSON o modulo non valido)"
