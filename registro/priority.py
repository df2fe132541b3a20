"""The embedded default's background processes (the stage worker, the Prefect server) run below the
API: a person waiting for an answer goes first, a flow run a few milliseconds later. The figures that
chose it are in ``registro.stage_worker`` and ``registro.prefect_server``."""

from __future__ import annotations

import os

NICENESS = 5


def lower_priority(niceness: int = NICENESS) -> None:
    """Lowers this process's scheduling priority (where the system has ``nice``)."""
    if hasattr(os, "nice"):
        os.nice(niceness)
