"""The compiler's driver: a parsed program → a validated :class:`~infera.plan.tables.Plan`, in three phases.

1. Names: the ``use``d catalog entries and the program's blocks in one :class:`~infera.plan.scope.Scope`.
2. Blocks → specs (:mod:`infera.plan.blocks`, one module per block kind): every declared block is compiled,
   used or not, so that mistakes surface before a long run.
3. Lowering (:mod:`infera.plan.lower`): the runs' tables, with the checks of :mod:`infera.plan.checks`
   that need a run's facts.

Every problem is a :class:`~infera.exceptions.CompileError` carrying the location of the offending node.
"""

from __future__ import annotations

import dataclasses

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan import traffic as traffic_mod
from infera.plan.blocks import compile_blocks
from infera.plan.blocks.design import DesignSpec, compile_design
from infera.plan.blocks.run import compile_run
from infera.plan.blocks.sweep import SweepSpec, compile_sweep
from infera.plan.blocks.traffic import compile_traffic
from infera.plan.lower import lower
from infera.plan.scope import Scope
from infera.plan.specs import RunSpec
from infera.plan.tables import Plan

__all__ = ["Compiler", "compile_program", "design_specs", "run_specs", "sweep_specs"]


class Compiler:
    """Compiles one program; ``compile()`` returns the plan.

    ``traffic_rates`` replaces the Poisson rate of named traffic blocks and ``select`` keeps one
    ``(run, system)`` pair: both serve searches that simulate one system of a file at other rates.
    """

    def __init__(self, program: ast.Program, *, traffic_rates: dict[str, float] | None = None,
                 select: tuple[str, str] | None = None) -> None:
        self.program = program
        self.traffic_rates = traffic_rates or {}
        self.select = select
        self.scope = Scope.of_program(program)

    def compile(self) -> Plan:
        start = ast.Loc(self.program.file, 1, 1)
        if not self.scope.all(ast.RunBlock):
            raise CompileError(f"{self.program.file}: nothing to run (add a run block)", start)
        # A sweep's paths are checked here, so `infera check` finds a bad one; the plan is the file's runs
        # as written (infera.sweep runs the points).
        sweep_specs(self.program, self.scope)
        design_specs(self.program, self.scope)  # likewise a design block's fields (infera.design searches)
        specs = compile_blocks(self.scope)
        for name, rate in self.traffic_rates.items():
            if specs.traffics[name].arrivals != "poisson":
                raise CompileError(f"traffic '{name}': only Poisson arrivals have a rate to vary",
                                   self.scope.get(ast.TrafficBlock, name, start).loc)
            specs.traffics[name] = dataclasses.replace(specs.traffics[name], rate=rate)
        if self.select is not None:
            run, system = self.select
            specs.runs = [dataclasses.replace(r, systems=[s for s in r.systems if s[0] == system])
                          for r in specs.runs if r.name == run]
            if not specs.runs or not specs.runs[0].systems:
                raise CompileError(f"no run '{run}' with system '{system}'", start)
        return lower(specs)


def compile_program(program: ast.Program, *, traffic_rates: dict[str, float] | None = None,
                    select: tuple[str, str] | None = None) -> Plan:
    """Compiles a parsed program into a plan (see :class:`Compiler` for the keyword arguments)."""
    return Compiler(program, traffic_rates=traffic_rates, select=select).compile()


def sweep_specs(program: ast.Program, scope: Scope | None = None) -> list[SweepSpec]:
    """The program's sweep blocks, compiled (their paths checked against its blocks)."""
    scope = scope or Scope.of_program(program)
    return [compile_sweep(scope, b, program) for b in scope.all(ast.SweepBlock).values()]


def design_specs(program: ast.Program, scope: Scope | None = None) -> list[DesignSpec]:
    """The program's design blocks, compiled (their fields and the blocks they name checked)."""
    scope = scope or Scope.of_program(program)
    return [compile_design(scope, b) for b in scope.all(ast.DesignBlock).values()]


def run_specs(program: ast.Program) -> tuple[list[RunSpec], dict[str, traffic_mod.TrafficSpec]]:
    """The program's runs and traffic blocks, compiled (for drivers such as the max-rate search)."""
    scope = Scope.of_program(program)
    runs = [compile_run(scope, b) for b in scope.all(ast.RunBlock).values()]
    traffics = {n: compile_traffic(scope, b) for n, b in scope.all(ast.TrafficBlock).items()}
    return runs, traffics
