"""Pruning: which designs cannot run before any is simulated.

A design is pruned when the compiler would reject it: the same checks lowering makes on each pool of a
run's system (the chip runs the model, ``tp`` against the heads, ``ep`` against the experts, then the
weights and the longest request's KV cache in an instance's memory, :func:`~infera.plan.checks.check_pool`
and :func:`~infera.plan.hardware.place_memory`), made on the design's system alone, without sampling the
traffic or lowering tables. The error kept is the compiler's own ("... does not fit: ... short by ...").
"""

from __future__ import annotations

import math

import numpy as np

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan import model as model_mod
from infera.plan import stacks
from infera.plan import traffic as traffic_mod
from infera.plan.blocks.chip import compile_chip
from infera.plan.blocks.system import compile_system
from infera.plan.checks import check_chip_runs, check_instances, check_pool
from infera.plan.hardware import place_memory
from infera.plan.scope import Scope
from infera.plan.specs import ChipSpec


def longest_request(spec: traffic_mod.TrafficSpec, seed: int) -> int:
    """The longest request lowering checks a pool against: the length distributions' bounds, or the
    stream's own longest when they are unbounded or replayed from a trace."""
    bound = spec.longest
    if spec.trace is None and math.isfinite(bound):
        return int(bound)
    stream = traffic_mod.sample(spec, seed)
    return int((stream.prompt_tokens.astype(np.int64) + stream.output_tokens).max())


class FitCheck:
    """The compiler's pool checks for one model and traffic, chips compiled once."""

    def __init__(self, shape: model_mod.ModelShape, longest: int) -> None:
        self.shape = shape
        self.longest = longest
        self.chips: dict[str, ChipSpec] = {}

    def error(self, program: ast.Program, system: str) -> str | None:
        """Why ``system`` of ``program`` cannot run the model (the compiler's message), or None if it can."""
        scope = Scope.of_program(program)
        try:
            spec = compile_system(scope, scope.get(ast.SystemBlock, system, ast.Loc(program.file, 1, 1)))
            check_instances(spec)
            for pool in spec.pools:
                if pool.chip not in self.chips:
                    self.chips[pool.chip] = compile_chip(scope, scope.get(ast.ChipBlock, pool.chip, pool.chip_loc))
                chip = self.chips[pool.chip]
                pool = stacks.apply(pool, chip)
                where = f"system '{spec.name}' pool '{pool.name}'"
                check_chip_runs(self.shape, chip, where, pool.loc)
                check_pool(self.shape, chip, pool, where, self.longest)
                place_memory(self.shape, chip, pool, self.longest, where)
        except CompileError as exc:
            return str(exc)
        return None
