"""Benchmark: the public registry (``GET /registro`` and ``GET /api/v1/registry``) over 10,000 entries.

Creates a database of its own (``bench/database.py``: on an embedded server of its own, or on the
server of ``--postgres URL``; dropped at the end), migrates it (``registro.bootstrap.migrate``), seeds N registry
entries in bulk (districts with varied names over the profile's sections, their application in a
registry state — mostly active, some renewing, expired, revoked, the census section's registered —
a recognition act for each non-census one, and 10% more districts with a draft only, never public),
runs the API under uvicorn on 127.0.0.1 (``bench/live_api.py``), then times sequential requests
over one keep-alive connection: the HTML page (first page, a middle page, a filtered page) and the
JSON (the same three). Prints p50 / p95 / max in ms and the bytes of each answer.

The same script runs on the code before pagination (it ignores ``pagina``/``page``: every answer
is then the whole registry); there ``--requests 20`` is enough, each answer taking seconds.

    .venv/bin/python bench/public_registry.py
    .venv/bin/python bench/public_registry.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from database import add_postgres_option, fresh_database  # bench/database.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORDS = [
    "Agroalimentare", "Meccanica", "Moda", "Legno", "Nautica", "Ceramica", "Olio", "Vino", "Pietra", "Logistica",
    "Aerospazio", "Energia", "Turismo", "Tessile", "Calzature", "Mobile", "Lattiero", "Ortofrutta", "Pesca", "Design",
]  # fmt: skip
PLACES = ["Murgia", "Salento", "Gargano", "Daunia", "Valle d'Itria", "Terra di Bari", "Tarantino", "Capitanata"]


def seed(entries: int) -> float:
    from sqlalchemy import insert, text

    from models.application import Application
    from models.district import District
    from models.enums import ApplicationKind, State
    from models.profiles import load_profile
    from models.registry import RecognitionAct, RegistryEntry
    from registro.db import session_scope
    from registro.settings import get_settings

    started = time.perf_counter()
    rng = random.Random(16)
    now = datetime(2026, 1, 10, 9, tzinfo=UTC)
    profile = load_profile(get_settings().profile)
    sections = [s.number for s in profile.sections]
    census = {s.number for s in profile.sections if s.census}
    states = [State.ACTIVE] * 14 + [State.RENEWED, State.RENEWAL_REQUESTED, State.RENEWAL_REQUESTED]
    states += [State.EXPIRED, State.EXPIRED, State.REVOKED]
    drafts = entries // 10
    with session_scope() as session:
        for start in range(1, entries + drafts + 1, 1000):
            block = range(start, min(start + 1000, entries + drafts + 1))
            rows = []
            for n in block:
                section = rng.choice(sections)
                public = n <= entries
                state = (State.REGISTERED if section in census else rng.choice(states)) if public else State.DRAFT
                rows.append((n, section, state, public))
            session.execute(
                insert(District),
                [
                    {"id": n, "name": f"Distretto {rng.choice(WORDS)} {rng.choice(PLACES)} {n}", "section": section,
                     "supply_chain": "filiera", "territory": "Puglia", "representative_org": f"Consorzio {n}",
                     "pec_email": f"d{n}@pec.example.it", "created_at": now}
                    for n, section, _, _ in rows
                ],
            )  # fmt: skip
            session.execute(
                insert(Application),
                [
                    {"id": n, "district_id": n, "section": section, "state": state, "version": 3,
                     "kind": ApplicationKind.CENSUS if section in census else ApplicationKind.RECOGNITION,
                     "observation_rounds": 0, "programme_summary": "", "specificity": "", "created_at": now,
                     "updated_at": now}
                    for n, section, state, _ in rows
                ],
            )  # fmt: skip
            acts = [(n, section) for n, section, _, public in rows if public and section not in census]
            issued = {n: date(2025, 1, 2) - timedelta(days=n % 1400) for n, _ in acts}
            if not any(public for *_, public in rows):  # the drafts' blocks: no act, no entry
                session.commit()
                continue
            session.execute(
                insert(RecognitionAct),
                [
                    {"id": n, "application_id": n, "act_type": "Determinazione dirigenziale", "year": 2020 + n % 6,
                     "number": n, "issued_on": issued[n], "section": section, "valid_from": issued[n],
                     "valid_until": issued[n] + timedelta(days=3 * 365), "publication_ref": f"BURP n. {n % 150}"}
                    for n, section in acts
                ],
            )  # fmt: skip
            session.execute(
                insert(RegistryEntry),
                [
                    {"district_id": n, "application_id": n, "section": section,
                     "act_id": None if section in census else n,
                     "registered_on": issued.get(n, date(2024, 6, 1)), "valid_from": issued.get(n, date(2024, 6, 1)),
                     "valid_until": issued[n] + timedelta(days=3 * 365) if n in issued else None,
                     "enterprises": 20 + n % 80, "employees": 100 + n % 900}
                    for n, section, _, public in rows if public
                ],
            )  # fmt: skip
            session.commit()
        for table in ("district", "application", "recognition_act"):
            session.execute(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
        session.execute(text("ANALYZE"))
        session.commit()
    return time.perf_counter() - started


def timed(http: httpx.Client, path: str, requests: int) -> tuple[list[float], int, int]:
    """(latencies in ms, bytes of the answer, status) of ``requests`` sequential GETs, after 3 to warm up."""
    for _ in range(3):
        http.get(path)
    latencies, size, status = [], 0, 0
    for _ in range(requests):
        started = time.perf_counter()
        response = http.get(path)
        latencies.append((time.perf_counter() - started) * 1000)
        size, status = len(response.content), response.status_code
    return latencies, size, status


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_postgres_option(parser)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="richieste misurate per ciascun indirizzo")
    args = parser.parse_args()
    with fresh_database(args.postgres) as url:
        measure(args, url)


def measure(args: argparse.Namespace, url: str) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="registro-bench-registry-"))
    os.environ["REGISTRO_DATA_DIR"] = str(data_dir)
    os.environ["REGISTRO_DATABASE_URL"] = url
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from live_api import LiveApi  # bench/live_api.py, beside this script

    from registro import db
    from registro.bootstrap import migrate

    api = LiveApi(data_dir, url)
    try:
        migrate(db.get_engine())
        print(f"PostgreSQL: {args.entries} iscrizioni pubbliche, preparazione {seed(args.entries):.1f} s", flush=True)
        db.get_engine().dispose()
        api.start()
        section = 1
        targets = [
            ("HTML prima pagina", "/registro"),
            ("HTML pagina centrale", "/registro?pagina=100"),
            ("HTML filtrata (sez. 1, attivi, pag. 2)", f"/registro?sezione={section}&stato=active&pagina=2"),
            ("JSON prima pagina", "/api/v1/registry"),
            ("JSON pagina centrale", "/api/v1/registry?page=100"),
            ("JSON filtrata (sez. 1, attivi, pag. 2)", f"/api/v1/registry?section={section}&status=active&page=2"),
        ]
        print(f"{args.requests} richieste in sequenza per indirizzo (una connessione), {os.cpu_count()} core:")
        print(f"  {'':42} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'byte':>10}  stato")
        with httpx.Client(base_url=api.url, timeout=60) as http:
            for label, path in targets:
                latencies, size, status = timed(http, path, args.requests)
                print(
                    f"  {label:42} {statistics.median(latencies):8.1f} {p95(latencies):8.1f} {max(latencies):8.1f} "
                    f"{size:10,}  {status}",
                    flush=True,
                )
    finally:
        api.stop()
        db.get_engine().dispose()
        print(f"(dati e log dell'API in {data_dir})")


if __name__ == "__main__":
    main()
