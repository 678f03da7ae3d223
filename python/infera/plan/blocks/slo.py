"""``slo`` blocks → :class:`~infera.plan.specs.SloSpec`: latency targets such as ``ttft.p99 < 2 s``."""

from __future__ import annotations

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan.fields import as_quantity
from infera.plan.scope import Scope
from infera.plan.specs import METRICS, SloSpec


def compile_slo(scope: Scope, block: ast.SloBlock) -> SloSpec:
    where = f"slo '{block.name}'"
    items = list(block.items)
    targets = []
    seen: dict[str, ast.Loc] = {}
    for item in items:
        if isinstance(item, ast.Constraint):
            if item.metric not in METRICS:
                raise CompileError(f"{where}: unknown metric '{item.metric}' (known: {', '.join(METRICS)})",
                                   item.loc)
            if item.metric in seen:
                raise CompileError(f"{where}: '{item.metric}' constrained twice (first at {seen[item.metric]})",
                                   item.loc)
            seen[item.metric] = item.loc
            thr = as_quantity(item.value, ("time",), f"{where}: {item.metric}")
            if item.percentile is not None and not 0 < item.percentile <= 100:
                raise CompileError(f"{where}: percentile must be in (0, 100]", item.loc)
            targets.append((item.metric, item.percentile, thr))
        else:
            raise CompileError(f"{where}: write targets like 'ttft.p99 < 2 s'", item.loc)
    if not targets:
        raise CompileError(f"{where}: no targets", block.loc)
    return SloSpec(block.name, targets, block.loc)
