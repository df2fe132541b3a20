"""``registro deploy``: registers the deployments of ``prefect.yaml`` with a Prefect server, each in its
work pool (``work_pool.name``, default ``registro``), for ``prefect worker start --pool registro``.

The same file and the same reading as the embedded runner (``registro.serve``): one description of the
deployments for both set-ups. Used instead of ``prefect deploy --all``, which with the pinned versions
stops after the first deployment on a 422 of its check for online workers (the deployments themselves
are fine). Flow runs start in the project folder, where the entrypoints and the app's packages are.
"""

from __future__ import annotations

import os

from registro.serve import build_deployments, read_specs, resolve_yaml_path

DEFAULT_POOL = "registro"


def _pool(config: dict[str, object]) -> str:
    work_pool = config.get("work_pool")
    if isinstance(work_pool, dict) and work_pool.get("name"):
        return str(work_pool["name"])
    return DEFAULT_POOL


def deploy_all(yaml_path: str | None = None) -> list[tuple[str, str]]:
    """Applies every deployment of the file; returns (flow/deployment, work pool) pairs."""
    path = resolve_yaml_path(yaml_path)
    os.chdir(path.parent)  # the deployments' working folder is the project folder
    from prefect.runner.storage import LocalStorage

    applied = []
    for spec, deployment in zip(read_specs(path), build_deployments(path), strict=True):
        pool = _pool(spec.config)
        deployment.storage = LocalStorage(str(path.parent))  # pull step: work from the project folder
        deployment.apply(work_pool_name=pool)  # sync outside an event loop
        applied.append((f"{deployment.flow_name}/{deployment.name}", pool))
    return applied
