"""Schema-driven fuzzing of the JSON API (schemathesis over the app's own OpenAPI, in-process ASGI):
every operation, as a representative, as an official and anonymously, with bounded examples per
operation, and EVERY check of schemathesis: no server error, every status documented, every body as
its schema says (errors included: ``api.errors.ErrorBody``), content types and headers as declared,
invalid data (negative cases, half of them) refused, valid data accepted — or refused with a documented
409/422 when it breaks a rule of the domain (``schemathesis.toml``). The summary line says how many
cases ran and failed.
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
from schemathesis import GenerationMode

from tests.api_support import Http, People, draft_ready

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 15  # per operation and per user: about 50 operations x 3 users
# the login throttle would lock the fuzzing users out; logging out or changing the password ends their session
SKIP = {("POST", "/api/v1/auth/token"), ("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/password")}


@pytest.mark.parametrize("who", ["representative", "official", "anonymous"])
def test_the_api_answers_as_its_openapi_says(
    who: str, app: FastAPI, client: TestClient, auth: Http, people: People, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = {"representative": auth(people.rep), "official": auth(people.official), "anonymous": {}}[who]
    draft_ready(client, auth(people.rep))  # something to find: a draft with its roster and documents
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) > 20
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    started = time.monotonic()

    for operation in operations:
        if (operation.method.upper(), operation.path) in SKIP:
            continue

        @given(
            case=st.one_of(
                operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
            )
        )
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,  # the same cases every run: a failure is reproducible
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            case.headers = {**(case.headers or {}), **headers}  # over any generated Authorization
            try:
                response = case.call_and_validate()
            except BaseException as failed:  # one failed check, or a group of them; an exception out of the app
                for error in getattr(failed, "exceptions", [failed]):
                    said = " ".join(str(error).split())[:260]
                    failures.append(f"{case.method} {case.operation.path}: {type(error).__name__}: {said}")
                return
            statuses[response.status_code] += 1

        fuzz()

    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\nfuzz ({who}): {sum(statuses.values()) + len(failures)} cases over {len(operations) - len(SKIP)} "
            f"operations in {elapsed:.0f} s, {len(failures)} failed checks; statuses {dict(sorted(statuses.items()))}"
        )
    assert not failures, "\n".join(sorted(set(failures)))
