"""One flow per stage of the recognition procedure; each carries out one accepted action.

An API route stores the request as a ``StageAction`` (checked against the lifecycle, file marked
busy) and dispatches it here. Each flow applies the action's event with its own flow-run id on
the audit event, issues the stage's document (receipt, letters, decree) in the same transaction,
and closes the action: done, or failed with the reason in Italian.

Layout chosen by measurement (``prefect server start``, 2 cores, in-process async runs):
an empty async flow run costs about 140-160 ms; the stage work itself about 20 ms; a Prefect task
around it about 25 ms more; a custom flow-run name about 40 ms more (one more API call to rename
the run). So the flow body runs the work directly in a worker thread, retried on transient errors
only (``tasks.stage_work.carry_out_async``), and in-process runs keep Prefect's generated name; the
flow-run id is on the audit event and on the action, which is how an official finds the run.
Deployment runs get a readable name at creation, which is free (``submission-app-12``, ``flows.dispatch``).

The flows are ``async``: a sync flow pays about one second at exit for the heartbeat thread.

A stage flow's outcome lives in our database (the action, its audit event and documents), so Prefect
persists no result of it (``persist_result=False``) and is told where results would go. Left unset,
Prefect's engine asks the server for its default result storage twice on every run
(``GET /admin/storage``, once async and once sync): 2 of its 8 API calls per run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow
from prefect.runtime import flow_run
from prefect.settings import get_current_settings

from models.enums import Stage
from tasks.stage_work import ActionOutcome, carry_out_async

STAGE_FLOW_RESULTS: dict[str, Any] = {
    "persist_result": False,
    "result_storage": Path(get_current_settings().results.local_storage_path),
}


def current_flow_run_id() -> str | None:
    run_id = flow_run.get_id()
    return str(run_id) if run_id else None


@flow(name="submission", **STAGE_FLOW_RESULTS)
async def submission_flow(action_id: int) -> ActionOutcome:
    """Presentazione: eligibility checked again, inbound protocol, procedure clock started, receipt issued."""
    return await carry_out_async(action_id, flow_run_id=current_flow_run_id(), stage=Stage.SUBMISSION)


@flow(name="completeness", **STAGE_FLOW_RESULTS)
async def completeness_flow(action_id: int) -> ActionOutcome:
    """Verifica di completezza: review started, integration requested (letter listing what is missing,
    clock suspended) and answered, declared complete or inadmissible, census registration, withdrawal."""
    return await carry_out_async(action_id, flow_run_id=current_flow_run_id(), stage=Stage.COMPLETENESS)


@flow(name="committee", **STAGE_FLOW_RESULTS)
async def committee_flow(action_id: int) -> ActionOutcome:
    """Valutazione del comitato: approval, notice of intended rejection (art. 10-bis letter, clock
    suspended), the representative's observations, rejection."""
    return await carry_out_async(action_id, flow_run_id=current_flow_run_id(), stage=Stage.COMMITTEE)


@flow(name="recognition", **STAGE_FLOW_RESULTS)
async def recognition_flow(action_id: int) -> ActionOutcome:
    """Riconoscimento: act numbered, decree rendered, stored and protocolled, registry entry written;
    revocation of an entry."""
    return await carry_out_async(action_id, flow_run_id=current_flow_run_id(), stage=Stage.RECOGNITION)


STAGE_FLOWS = {
    Stage.SUBMISSION: submission_flow,
    Stage.COMPLETENESS: completeness_flow,
    Stage.COMMITTEE: committee_flow,
    Stage.RECOGNITION: recognition_flow,
}
