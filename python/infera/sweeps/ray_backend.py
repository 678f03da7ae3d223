"""The Ray backend: each point is a Ray task (``pip install 'infera[ray]'``).

``ray.init()`` is called unless Ray is already initialised, so the cluster is Ray's usual choice: the
address in ``RAY_ADDRESS`` (e.g. ``ray://head:10001`` or ``auto`` on a node of a running cluster), else a
fresh local instance; or call ``ray.init(address=...)`` yourself before ``infera.sweep``. The program goes
to the object store once. The cluster's nodes need infera installed (or a ``runtime_env``), as for any Ray
task. Ctrl-C cancels the tasks not yet finished.
"""

from __future__ import annotations

from typing import Any, Iterator

import polars as pl

from infera.dsl import ast
from infera.exceptions import InferaError
from infera.sweeps.points import Task, run_point


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InferaError("the ray backend needs Ray: pip install 'infera[ray]'") from None
    return ray


def run(program: ast.Program, tasks: list[Task], workers: int) -> Iterator[pl.DataFrame]:
    ray = _ray()  # before the first point, so a missing Ray is reported at once
    return _run(ray, program, tasks)


def _run(ray: Any, program: ast.Program, tasks: list[Task]) -> Iterator[pl.DataFrame]:
    if not ray.is_initialized():
        ray.init(log_to_driver=False)
    work = ray.remote(run_point)
    ref = ray.put(program)
    pending = [work.remote(ref, t) for t in tasks]
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            yield ray.get(ready[0])
    finally:
        for p in pending:
            ray.cancel(p, force=True)
