"""The task served by ``bench/task_workers.py``'s task worker (imported by name on both sides)."""

from prefect import task


@task
async def empty(index: int) -> int:
    return index
