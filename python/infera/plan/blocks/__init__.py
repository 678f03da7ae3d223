"""Blocks → specs: one module per block kind, each turning its typed block (with any ``extends`` chain) into
the spec the later phases use, checking every field's type, unit and range at its location."""

from __future__ import annotations

from infera.dsl import ast
from infera.plan.blocks.chip import compile_chip
from infera.plan.blocks.model import compile_model
from infera.plan.blocks.run import compile_run
from infera.plan.blocks.slo import compile_slo
from infera.plan.blocks.system import compile_system
from infera.plan.blocks.traffic import compile_traffic
from infera.plan.scope import Scope
from infera.plan.specs import Specs


def compile_blocks(scope: Scope) -> Specs:
    """Every block in scope: models, then chips, traffic, SLOs, systems and runs (the order in which their
    errors are found), each kind in the order its blocks were declared."""
    return Specs(
        models={n: compile_model(scope, b) for n, b in scope.all(ast.ModelBlock).items()},
        chips={n: compile_chip(scope, b) for n, b in scope.all(ast.ChipBlock).items()},
        traffics={n: compile_traffic(scope, b) for n, b in scope.all(ast.TrafficBlock).items()},
        slos={n: compile_slo(scope, b) for n, b in scope.all(ast.SloBlock).items()},
        systems={n: compile_system(scope, b) for n, b in scope.all(ast.SystemBlock).items()},
        runs=[compile_run(scope, b) for b in scope.all(ast.RunBlock).values()],
    )
