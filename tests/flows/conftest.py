"""The flows' tests share the session's one Prefect test server (``prefect_harness``, tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def prefect_server(prefect_harness: None) -> None:
    return None
