"""Benchmark: Prefect's own dispatch of work to another process — a task worker serving a task, fed
with ``.delay()`` — against the locked Prefect server of the embedded default (``registro run`` in a
data folder of its own, PostgreSQL included). Measures the time from ``.delay()`` to the task run's
Completed state for an empty async task, one at a time and with 8 in flight: the figure issue 17 asks
before choosing between Prefect's mechanism and the stage worker's own datagram channel
(``registro/worker_channel.py``).

    .venv/bin/python bench/task_workers.py [--tasks 200] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from lifecycle_http import System, percentile  # noqa: E402

WORKER = "from task_worker_tasks import empty; from prefect.task_worker import serve; serve(empty)"


def timed_run(index: int) -> float:
    from task_worker_tasks import empty

    started = time.perf_counter()
    future = empty.delay(index)
    future.wait(timeout=60)
    if future.state is None or not future.state.is_completed():
        raise SystemExit(f"il task {index} non è stato completato: {future.state}")
    return time.perf_counter() - started


def measure(count: int, concurrency: int) -> list[float]:
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(timed_run, range(count)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="registro-bench-taskworker-"))
    system = System(data_dir)
    print(f"Avvio del sistema incorporato in {data_dir} …", flush=True)
    print(f"  pronto in {system.start():.1f} s", flush=True)
    os.environ["PREFECT_API_URL"] = system.prefect_api
    os.environ["PREFECT_API_AUTH_STRING"] = system.prefect_credential()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "bench"))
    log = open(data_dir / "task-worker.log", "w")  # noqa: SIM115
    worker = subprocess.Popen([sys.executable, "-c", WORKER], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        timed_run(-1)  # the worker's subscription is up, imports done
        ms = 1000
        for label, count, concurrency in (("uno alla volta", 50, 1), (f"{args.concurrency} in parallelo",
                                                                         args.tasks, args.concurrency)):  # fmt: skip
            started = time.perf_counter()
            times = measure(count, concurrency)
            total = time.perf_counter() - started
            print(
                f"Task vuoto, .delay() → Completed, {label}: {count} task in {total:.1f} s, "
                f"p50 {percentile(times, 50) * ms:.0f} ms, p95 {percentile(times, 95) * ms:.0f} ms, "
                f"max {max(times) * ms:.0f} ms",
                flush=True,
            )
        print(f"Macchina: {os.cpu_count()} core")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
        system.stop()


if __name__ == "__main__":
    main()
