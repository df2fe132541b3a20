"""Deployment runner: serves every deployment listed in ``prefect.yaml`` with its schedules.

Run as ``python -m registro.serve [PATH_TO_PREFECT_YAML]``. The file is, in order: the command line
argument, the environment variable ``REGISTRO_PREFECT_YAML``, ``prefect.yaml`` at the project root
(the parent of the ``registro`` package). Entrypoints (``flows/sweeps.py:daily_sweep`` or a module
path ``flows.sweeps.daily_sweep``) are relative to the folder holding the file; the process works
from that folder so that flow-run subprocesses find them too.

Read per deployment: ``name``, ``entrypoint``, ``parameters``, ``description``, ``tags``, ``version``,
``concurrency_limit``, ``paused`` and ``schedules`` (each with ``cron`` or ``interval`` in seconds or
ISO 8601, or ``rrule``; plus ``timezone``, ``active``, ``anchor_date``, ``day_or``, ``parameters``,
``slug``). ``work_pool`` is ignored: a served deployment runs in this process's runner.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import yaml
from pydantic import TypeAdapter

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment
    from prefect.flows import Flow
    from prefect.runner import Runner
    from prefect.schedules import Schedule

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_VAR = "REGISTRO_PREFECT_YAML"
READY_LINE = "runner pronto"
DRAIN_SECONDS = 20  # on stop, runs in flight get this long to finish before being cancelled


class ServeConfigError(Exception):
    """prefect.yaml cannot be turned into deployments; the message says which one and why (Italian)."""


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    entrypoint: str
    config: dict[str, Any]


def resolve_yaml_path(arg: str | None = None) -> Path:
    import os

    raw = arg or os.environ.get(ENV_VAR) or str(PROJECT_ROOT / "prefect.yaml")
    return Path(raw).expanduser().resolve()


def read_specs(path: Path) -> list[DeploymentSpec]:
    """The ``deployments:`` list of a prefect.yaml, checked for the keys this runner needs."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ServeConfigError(f"file {path} non trovato") from exc
    except yaml.YAMLError as exc:
        raise ServeConfigError(f"{path} non è YAML valido: {exc}") from exc
    entries = document.get("deployments") or []
    if not isinstance(entries, list):
        raise ServeConfigError(f"{path}: 'deployments' deve essere una lista")
    specs: list[DeploymentSpec] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("entrypoint"):
            raise ServeConfigError(f"{path}: il deployment n. {index + 1} non ha 'name' ed 'entrypoint'")
        specs.append(DeploymentSpec(str(entry["name"]), str(entry["entrypoint"]), entry))
    return specs


def build_schedule(raw: dict[str, Any], deployment: str) -> Schedule:
    from prefect.schedules import Schedule

    if not isinstance(raw, dict):
        raise ServeConfigError(f"deployment {deployment!r}: ogni schedule deve essere un dizionario")
    kinds = [key for key in ("cron", "interval", "rrule") if raw.get(key) is not None]
    if len(kinds) != 1:
        raise ServeConfigError(f"deployment {deployment!r}: una schedule vuole uno solo fra cron, interval, rrule")
    kwargs: dict[str, Any] = {
        "timezone": raw.get("timezone"),
        "active": bool(raw.get("active", True)),
        "day_or": bool(raw.get("day_or", True)),
        "parameters": dict(raw.get("parameters") or {}),
        "slug": raw.get("slug"),
    }
    try:
        if raw.get("anchor_date") is not None:
            kwargs["anchor_date"] = TypeAdapter(datetime).validate_python(raw["anchor_date"])
        if kinds[0] == "interval":
            interval = raw["interval"]
            kwargs["interval"] = (
                timedelta(seconds=interval)
                if isinstance(interval, int | float)
                else TypeAdapter(timedelta).validate_python(interval)
            )
        else:
            kwargs[kinds[0]] = str(raw[kinds[0]])
        return Schedule(**kwargs)
    except ValueError as exc:
        raise ServeConfigError(f"deployment {deployment!r}: schedule non valida {raw}: {exc}") from exc


def _absolute_entrypoint(entrypoint: str, base: Path) -> str:
    if ":" not in entrypoint:  # module path: found through sys.path
        return entrypoint
    path, func = entrypoint.rsplit(":", 1)
    return f"{(base / path).resolve()}:{func}"


def build_deployments(path: Path) -> list[RunnerDeployment]:
    """Load each flow from its entrypoint and turn each prefect.yaml entry into a RunnerDeployment."""
    from prefect.flows import load_flow_from_entrypoint

    base = path.parent
    if str(base) not in sys.path:
        sys.path.insert(0, str(base))
    deployments: list[RunnerDeployment] = []
    for spec in read_specs(path):
        config = spec.config
        try:
            flow: Flow[..., Any] = load_flow_from_entrypoint(
                _absolute_entrypoint(spec.entrypoint, base), use_placeholder_flow=False
            )
        except Exception as exc:
            raise ServeConfigError(
                f"deployment {spec.name!r}: impossibile caricare il flusso da {spec.entrypoint!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        schedules = [build_schedule(raw, spec.name) for raw in config.get("schedules") or []]
        try:
            deployment = flow.to_deployment(
                name=spec.name,
                schedules=schedules,
                parameters=dict(config.get("parameters") or {}),
                description=config.get("description"),
                tags=list(config.get("tags") or []),
                version=str(config["version"]) if config.get("version") is not None else None,
                concurrency_limit=config.get("concurrency_limit"),
                paused=config.get("paused"),
            )
        except Exception as exc:
            raise ServeConfigError(f"deployment {spec.name!r}: configurazione non valida: {exc}") from exc
        deployments.append(cast("RunnerDeployment", deployment))  # sync call: not a coroutine
    return deployments


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _in_flight(runner: Runner) -> int:
    """Flow-run subprocesses the runner is tracking (a private API of prefect 3.8: 0 if it changes)."""
    try:
        return len(runner._process_manager.flow_run_ids())
    except Exception:
        return 0


async def _run(runner: Runner) -> None:
    """``runner.start()`` with a graceful stop on SIGINT/SIGTERM: no new runs, the runs in flight get
    up to DRAIN_SECONDS to finish (then the runner cancels them), schedules are paused. A second
    signal stops at once. (Prefect's own SIGTERM handler leaves a never-awaited coroutine, and a
    KeyboardInterrupt cancels the control channel's tasks, which Python 3.11 logs as a traceback.)"""
    loop = asyncio.get_running_loop()
    requested: list[asyncio.Task[None] | None] = []

    async def stop() -> None:
        while not runner.started:  # signal during start-up
            await asyncio.sleep(0.1)
        poller = getattr(runner, "_scheduled_run_poller", None)
        if poller is not None:
            poller.stopping = True  # take no new runs
        count = _in_flight(runner)
        if count:
            print(f"attendo la fine di {count} flow run in corso (al più {DRAIN_SECONDS} s)…", flush=True)
        deadline = loop.time() + DRAIN_SECONDS
        while _in_flight(runner) and loop.time() < deadline:
            await asyncio.sleep(0.2)
        await runner.astop()

    def request_stop(*_: object) -> None:
        if requested:
            raise KeyboardInterrupt
        requested.append(None)  # at once: a second signal, even before the task starts, stops hard
        loop.call_soon_threadsafe(lambda: requested.append(loop.create_task(stop())))

    signal.signal(signal.SIGINT, request_stop)
    runner.handle_sigterm = request_stop  # type: ignore[method-assign]  # installed by Runner.start()
    await runner.start()


def main(argv: list[str] | None = None) -> int:
    import os

    from prefect.logging import get_logger
    from prefect.runner import Runner

    args = sys.argv[1:] if argv is None else argv
    logger = get_logger("registro.serve")
    path = resolve_yaml_path(args[0] if args else None)
    os.chdir(path.parent)
    signal.signal(signal.SIGTERM, _interrupt)  # until the runner's loop takes over
    try:
        deployments = build_deployments(path)
        if not deployments:
            logger.warning("Nessun deployment in %s: il runner resta in attesa senza lavoro.", path)
        runner = Runner(name="registro", pause_on_shutdown=True)
        for deployment in deployments:
            runner.add_deployment(deployment)  # registers it with the Prefect server
        names = ", ".join(f"{d.flow_name}/{d.name}" for d in deployments) or "nessuno"
        print(f"{READY_LINE}: {len(deployments)} deployment ({names})", flush=True)
        asyncio.run(_run(runner))
    except ServeConfigError as exc:
        print(f"serve: ERRORE in {path}: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        pass
    print("runner fermato", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
