"""A design search as sweep points: each design is a point of a template system (one for mixed designs,
one for split ones) with its pools' chips, chip kind, ``tp`` and ``ep`` set by sweep paths, so that the
sweep executor runs it (in worker processes or on Ray, with progress and Ctrl-C) and each design is
compiled and simulated exactly as the same system written by hand would be.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from infera.designs.fit import FitCheck, longest_request
from infera.designs.space import Design, designs
from infera.dsl import ast, parse
from infera.plan import overrides
from infera.plan.blocks.chip import compile_chip
from infera.plan.blocks.design import DesignSpec
from infera.plan.blocks.model import compile_model
from infera.plan.blocks.traffic import compile_traffic
from infera.plan.scope import Scope
from infera.sweeps.points import Task, program_at

#: The template blocks' names (a system and its run share one); the "__" keeps them clear of a file's own.
TEMPLATES = {"mixed": "__design_mixed", "split": "__design_split"}
#: The template pools: ``gp`` of a mixed design; ``pre`` -> ``dec`` of a split one.
POOLS = {"mixed": ("gp",), "split": ("pre", "dec")}


@dataclass
class Prepared:
    spec: DesignSpec
    #: The file flattened, its runs, sweeps and designs dropped, the templates added, the rate set.
    program: ast.Program
    designs: list[Design]
    #: Per design, why the compiler would reject it (None: it fits and is simulated).
    errors: list[str | None]
    #: One sweep point per design that fits; its ``point`` is the design's index in ``designs``.
    tasks: list[Task]


def prepare(program: ast.Program, spec: DesignSpec) -> Prepared:
    """The designs of ``spec``, each checked for fit, and the sweep points of those that fit."""
    flat = overrides.flatten(program)
    kept = [b for b in flat.blocks if not isinstance(b, (ast.SweepBlock, ast.DesignBlock, ast.RunBlock))]
    flat = dataclasses.replace(flat, blocks=kept + _templates(spec, program.file))
    if spec.rate is not None:
        rate = ast.Quantity(spec.rate, "rate", "/s", spec.loc)
        flat = overrides.apply(flat, ("traffic", spec.traffic, "arrivals", "rate"), rate, spec.loc)
    scope = Scope.of_program(flat)
    shape = compile_model(scope, scope.get(ast.ModelBlock, spec.model, spec.loc))
    traffic = compile_traffic(scope, scope.get(ast.TrafficBlock, spec.traffic, spec.loc))
    prices = {c: compile_chip(scope, scope.get(ast.ChipBlock, c, spec.loc)).price_per_hour for c in spec.chips}
    space = designs(spec, prices, shape.is_moe)
    check = FitCheck(shape, longest_request(traffic, spec.seed))
    errors: list[str | None] = []
    tasks = []
    for i, d in enumerate(space):
        task = task_of(spec, i, d)
        error = check.error(program_at(flat, task), TEMPLATES[d.mode])
        errors.append(error)
        if error is None:
            tasks.append(task)
    return Prepared(spec, flat, space, errors, tasks)


def task_of(spec: DesignSpec, index: int, d: Design) -> Task:
    """The sweep point that turns the template of ``d``'s mode into ``d``."""
    system = TEMPLATES[d.mode]
    loc = spec.loc
    paths: list[tuple[str, ...]] = []
    values: list[ast.Value] = []
    for name, p in zip(POOLS[d.mode], d.pools):
        base = ("system", system, "pool", name)
        paths += [base, base + ("tp",), base + ("ep",)]
        values += [ast.ChipCount(_number(p.chips, loc), ast.Name(d.chip, loc), loc), _number(p.tp, loc),
                   _number(p.ep, loc)]
    return Task(spec.name, index, (system,), tuple(paths), tuple(values))


def _number(n: int, loc: ast.Loc) -> ast.Quantity:
    return ast.Quantity(float(n), "number", "", loc, is_integer=True)


def _templates(spec: DesignSpec, file: str) -> list[ast.Block]:
    """The template systems and their runs, as DSL text (so they compile as a written file would)."""
    chip = spec.chips[0]
    run = f"model = {spec.model}, traffic = {spec.traffic}, slo = {spec.slo}, seed = {spec.seed}"
    text = (f"system {TEMPLATES['mixed']} {{ pool gp: 1 x {chip} {{ tp = 1 }} }}\n"
            f"run {TEMPLATES['mixed']} {{ {run}, system = {TEMPLATES['mixed']} }}\n")
    if "split" in spec.modes:
        text += (f"system {TEMPLATES['split']} {{\n"
                 f"  pool pre: 1 x {chip} {{ tp = 1, role = prefill }}\n"
                 f"  pool dec: 1 x {chip} {{ tp = 1, role = decode }}\n"
                 f"  link pre -> dec {{ bandwidth = {spec.link_bandwidth!r} B/s, "
                 f"latency = {spec.link_latency_s!r} s }}\n"
                 f"}}\n"
                 f"run {TEMPLATES['split']} {{ {run}, system = {TEMPLATES['split']} }}\n")
    return [_relocate(b, spec.loc) for b in parse(text, file=file).blocks]


def _relocate(node: Any, loc: ast.Loc) -> Any:
    """``node`` with every location moved to ``loc``: a template's errors point at its design block."""
    if isinstance(node, ast.Loc):
        return loc
    if isinstance(node, tuple):
        return tuple(_relocate(n, loc) for n in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return dataclasses.replace(node, **{f.name: _relocate(getattr(node, f.name), loc)
                                            for f in dataclasses.fields(node) if f.init})
    return node
