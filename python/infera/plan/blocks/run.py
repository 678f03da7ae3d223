"""``run`` blocks → :class:`~infera.plan.specs.RunSpec`: which model, traffic, systems and SLO to simulate,
the seed, what to record, and an optional max-rate search."""

from __future__ import annotations

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan.fields import Fields
from infera.plan.scope import Scope, only_items
from infera.plan.specs import RECORDABLE, RunSpec, SearchSpec


def compile_run(scope: Scope, block: ast.RunBlock) -> RunSpec:
    where = f"run '{block.name}'"
    items = list(block.items)
    only_items(items, (ast.Assign,), where)
    f = Fields(where, items, block.loc)
    model = f.name("model")
    traffic = f.name("traffic")
    slo = f.name("slo", required=False)
    seed = f.integer("seed", 0, minimum=0, dims=("number",))
    systems: list[tuple[str, ast.Loc]] = []
    one = f.take("system")
    many = f.take("systems")
    if one is not None and many is not None:
        raise CompileError(f"{where}: give either system or systems, not both", many.loc)
    if one is not None:
        if not isinstance(one.value, ast.Name):
            raise CompileError(f"{where}: system must be a name", one.value.loc)
        systems.append((one.value.id, one.value.loc))
    elif many is not None:
        if not isinstance(many.value, ast.ListValue) or not many.value.items:
            raise CompileError(f"{where}: systems must be a non-empty list such as [a, b]", many.value.loc)
        for it in many.value.items:
            if not isinstance(it, ast.Name):
                raise CompileError(f"{where}: systems must list system names", it.loc)
            systems.append((it.id, it.loc))
    else:
        raise CompileError(f"{where}: missing required field 'system'", block.loc)
    record = frozenset(RECORDABLE)
    ra = f.take("record")
    if ra is not None:
        if not isinstance(ra.value, ast.ListValue) or not all(
                isinstance(i, ast.Name) and i.id in RECORDABLE for i in ra.value.items):
            raise CompileError(f"{where}: record must list some of {', '.join(RECORDABLE)} (e.g. record = "
                               f"[requests]; [] keeps only the summary)", ra.value.loc)
        record = frozenset(i.id for i in ra.value.items)  # type: ignore[union-attr]
    search = None
    sa = f.take("search")
    if sa is not None:
        v = sa.value
        if not isinstance(v, ast.Call) or v.func != "max_rate" or v.args:
            raise CompileError(f"{where}: search must be max_rate(attainment = 90 %, tolerance = 2 %)", v.loc)
        sf = Fields(f"{where} max_rate()", v.kwargs, v.loc)
        att = sf.quantity("attainment", ("number",), 0.9)
        tol = sf.quantity("tolerance", ("number",), 0.02)
        probes = sf.integer("max_probes", 40, minimum=4, dims=("number",))
        sf.done()
        if not 0 < att <= 1 or not 0 < tol < 1:
            raise CompileError(f"{where}: attainment must be in (0, 100 %] and tolerance in (0, 100 %)", v.loc)
        if slo is None:
            raise CompileError(f"{where}: a max_rate search needs an slo", sa.loc)
        search = SearchSpec(att, tol, probes, v.loc)
    f.done()
    seen = set()
    for name, loc in systems:
        if name in seen:
            raise CompileError(f"{where}: system '{name}' listed twice", loc)
        seen.add(name)
    return RunSpec(block.name, model.id, systems, traffic.id, slo.id if slo else None, seed, block.loc,
                   model.loc, traffic.loc, slo.loc if slo else None, search, record)
