"""Executors: where audit cells run.

* ``local``: one cell after another in this process.
* ``isolated``: one cell after another, each attack in a child process that reaches the target
  through a query channel only (:mod:`mi_core.isolation`; for untrusted attack code). White-box
  cells cannot be isolated and fail with an IsolationError.
* ``ray``: every shard of every cell is a Ray task (on an existing cluster given by ``address``,
  or a local Ray started here); a cell's last task merges its shards and evaluates. Results come
  back to the driver through Ray's object store, and the driver writes them, so workers need no
  shared filesystem for results. Each worker prepares (trains or loads) the case targets under
  the audit's output directory: on a multi-machine cluster, put ``out`` on a shared filesystem
  so every worker loads the same cached targets.

Both executors run the same shards with the same seeds, so they give the same numbers.

A cell whose device is CUDA (``cuda``, ``cuda:N``, or ``auto`` on a cluster with GPUs) runs as a
task that requests ``gpus_per_task`` GPUs (``num_gpus``; a fraction shares a card between
cells), so Ray spreads cells over the cluster's cards; inside the task the cell computes on
the card Ray assigned (``cuda``). Cells on the CPU request none.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mi_core.audit.runner import (
    CellSpec,
    Executor,
    effective_shards,
    finish_cell,
    load_case,
    local_executor,
    run_shard,
    save_cell,
)
from mi_core.errors import ConfigError

EXECUTORS = ("local", "ray", "isolated")


def prepare_cases(specs: list[dict[str, Any]], workdir: str) -> None:
    """Prepare each distinct case of ``specs`` once (trains and caches its targets), on this
    machine's device (the driver's: the cached weights serve workers on any device)."""
    seen = set()
    for spec in specs:
        cell = CellSpec(**spec)
        key = (cell.case, json.dumps(cell.options, sort_keys=True), cell.seed)
        if key not in seen:
            seen.add(key)
            load_case(cell.case, Path(workdir), cell.seed, cell.options)


def gpus_for(spec: dict[str, Any], cluster_gpus: float, gpus_per_task: float = 1.0) -> float:
    """GPUs a cell's tasks request: ``gpus_per_task`` for a CUDA device (or ``auto`` on a
    cluster with GPUs), else 0."""
    device = str(spec.get("device", "auto"))
    if device.startswith("cuda") or (device == "auto" and cluster_gpus > 0):
        if cluster_gpus <= 0:
            raise ConfigError(
                f"device: cell {CellSpec(**spec).id} asks for {device!r}, but the Ray cluster "
                "has no GPU; start workers with GPUs or set device = 'cpu'"
            )
        return gpus_per_task
    return 0.0


def _on_task_gpu(spec: dict[str, Any], gpus: float) -> dict[str, Any]:
    """The spec a task runs: on the card Ray assigned it (``cuda``), or on the CPU."""
    return {**spec, "device": "cuda" if gpus > 0 else "cpu"}


def _timed_finish(
    spec: dict[str, Any], workdir: str, t0: float, *outputs: dict[str, Any]
) -> tuple[dict[str, Any], Any]:
    record, result = finish_cell(spec, workdir, *outputs)
    record["wall_seconds"] = time.time() - t0
    return record, result


def _no_uv_run_hook() -> None:
    """Honour RAY_ENABLE_UV_RUN_RUNTIME_ENV=0 even when Ray was imported before it was set."""
    if os.environ.get("RAY_ENABLE_UV_RUN_RUNTIME_ENV") != "0":
        return
    try:
        from ray._private import ray_constants
    except ImportError:  # a Ray without the hook
        return
    if getattr(ray_constants, "RAY_ENABLE_UV_RUN_RUNTIME_ENV", False):
        ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV = False


def ray_executor(
    address: str | None = None,
    num_cpus: int | None = None,
    cpus_per_task: float = 1.0,
    gpus_per_task: float = 1.0,
) -> Executor:
    """An executor that runs shards and cells as Ray tasks.

    Args:
        address: a Ray cluster address (``ray://host:10001`` or ``auto``); ``None`` starts a
            local Ray with ``num_cpus`` CPUs.
        cpus_per_task: CPUs Ray reserves for each shard (raise it for multi-threaded attacks).
        gpus_per_task: GPUs Ray reserves for each shard of a CUDA cell (``0.5``: two cells share
            a card).
    """
    # Workers run in this environment. Ray's `uv run` hook would package the project folder and
    # start every worker through `uv run` in a copy of it (about 30 s more for one cell here);
    # Ray reads the switch when it is imported, so it is set before the first import.
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "executor: 'ray' needs the ray package; install mi-core[ray] (pip install 'ray>=2.9')"
        ) from exc

    def execute(specs: list[dict[str, Any]], workdir: str) -> Iterable[dict[str, Any]]:
        import ray

        # Train (or load) every target here first, so that workers load the same cached models
        # instead of training their own with another thread count.
        prepare_cases(specs, workdir)
        _no_uv_run_hook()
        started_here = False
        if not ray.is_initialized():
            ray.init(
                address=address,
                num_cpus=num_cpus if address is None else None,
                include_dashboard=False,
                log_to_driver=False,
                ignore_reinit_error=True,
            )
            started_here = True
        try:
            shard_task = ray.remote(num_cpus=cpus_per_task)(run_shard)
            finish_task = ray.remote(num_cpus=cpus_per_task)(_timed_finish)
            pending: dict[Any, dict[str, Any]] = {}
            cluster_gpus = float(ray.cluster_resources().get("GPU", 0.0))
            for spec in specs:
                n = effective_shards(CellSpec(**spec))
                gpus = gpus_for(spec, cluster_gpus, gpus_per_task)
                task = _on_task_gpu(spec, gpus)
                parts = [
                    shard_task.options(num_gpus=gpus).remote(task, i, workdir) for i in range(n)
                ]
                finish = finish_task.options(num_gpus=gpus)
                pending[finish.remote(task, workdir, time.time(), *parts)] = spec
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    pending.pop(ref)
                    record, result = ray.get(ref)
                    save_cell(workdir, record, result)
                    yield record
        finally:
            if started_here:
                ray.shutdown()

    return execute


def get_executor(name: str, *, address: str | None = None, num_cpus: int | None = None) -> Executor:
    """The executor called ``name`` (``local``, ``ray`` or ``isolated``)."""
    if name == "local":
        if address is not None:
            raise ConfigError("--address: only the ray executor connects to a cluster")
        return local_executor
    if name == "ray":
        return ray_executor(address=address, num_cpus=num_cpus)
    if name == "isolated":
        if address is not None:
            raise ConfigError("--address: only the ray executor connects to a cluster")
        from mi_core.isolation import isolated_executor

        return isolated_executor
    raise ConfigError(
        f"executor: unknown executor {name!r}; allowed values: {', '.join(map(repr, EXECUTORS))}"
    )


__all__ = ["EXECUTORS", "get_executor", "local_executor", "ray_executor"]
