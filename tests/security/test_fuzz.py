"""Schema-driven fuzzing of the JSON API (schemathesis over the app's own OpenAPI, in-process ASGI):
every operation, logged in as an official and as a representative, with bounded examples per operation.
Whatever the input, the answer is never a server error (5xx); the summary line says how many cases ran.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.api_support import Http, People, draft_ready

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 25  # per operation and per user: about 40 operations x 2 users
# the login throttle would lock the fuzzing users out; logging out or changing the password ends their session
SKIP = {("POST", "/api/v1/auth/token"), ("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/password")}


def test_no_input_gives_a_server_error(
    app: FastAPI, client: TestClient, auth: Http, people: People, capsys: pytest.CaptureFixture[str]
) -> None:
    rep, official = auth(people.rep), auth(people.official)
    draft_ready(client, rep)  # something to find: a draft with its roster and documents
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) > 20
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    started = time.monotonic()

    for operation in operations:
        if (operation.method.upper(), operation.path) in SKIP:
            continue

        @given(case=operation.as_strategy(), headers=st.sampled_from([rep, official]))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,  # the same cases every run: a failure is reproducible
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any, headers: dict[str, str]) -> None:
            path = case.operation.path
            case.headers = {**(case.headers or {}), **headers}  # over any generated Authorization
            try:
                response = case.call()
            except Exception as exc:  # an exception out of the app is a server error too
                errors.append(f"{case.method} {path}: {type(exc).__name__}: {str(exc)[:120]}")
                return
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                errors.append(f"{case.method} {path} -> {response.status_code}: {response.text[:120]}")

        fuzz()

    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\nfuzz: {sum(statuses.values())} cases over {len(operations) - len(SKIP)} operations in {elapsed:.0f} s, "
            f"{len(errors)} server errors; statuses {dict(sorted(statuses.items()))}"
        )
    assert not errors, "\n".join(sorted(set(errors)))
