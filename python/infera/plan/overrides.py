"""Sweep paths: one parameter of a parsed program, named by a dotted path, set to another value.

A path is ``kind.block.field...`` with ``kind`` one of the block keywords. After the block it walks the
block's structure as written: a field (``traffic.chat.requests``), an argument of a call
(``traffic.chat.arrivals.rate``, ``traffic.chat.prompt.median``), a pool (``system.s.pool.gp.tp``, its
``chips`` count or its ``chip`` kind, or the whole ``8 x h100`` with ``system.s.pool.gp``), a link
(``system.s.link.pre.dec.bandwidth``), a sub-block (``chip.c.memory.hbm.bandwidth``,
``system.s.network.bandwidth``) or an SLO target (``slo.s.ttft.p99``).

Overriding works on the syntax tree, before the compiler, so a swept value is checked exactly like a
written one and its errors point at the value in the sweep. A block that ``extends`` another is first
written out whole (its merged items), so a field it inherits can be overridden too; blocks extending the
overridden one see the new value, as they would had it been written there.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from infera.catalog import resolve
from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan.scope import Scope, merged_items

#: The first part of a path → the kind of block it names.
KINDS: dict[str, type[ast.Block]] = {c.kind: c for c in (ast.ModelBlock, ast.ChipBlock, ast.TrafficBlock,
                                                         ast.SloBlock, ast.SystemBlock, ast.RunBlock)}

#: The name of a call's one positional argument, so that ``arrivals.rate`` reaches ``poisson(8 /s)``.
POSITIONAL = {"poisson": "rate", "closed": "users", "gamma": "rate", "constant": "rate", "diurnal": "mean"}


def flatten(program: ast.Program) -> ast.Program:
    """The program with its ``use``d catalog blocks written in as its own, in scope order (so a catalog
    chip or model can be overridden like a declared one, and the compiled plan is unchanged)."""
    Scope.of_program(program)  # duplicate names are reported as the plain compile reports them
    blocks = [resolve(u) for u in program.uses] + list(program.blocks)
    return ast.Program(file=program.file, uses=[], blocks=blocks)


def apply(program: ast.Program, path: tuple[str, ...], value: ast.Value, loc: ast.Loc) -> ast.Program:
    """``program`` (flattened) with the parameter at ``path`` set to ``value``; a path that names nothing
    is a :class:`CompileError` at ``loc`` that names the path."""
    where = f"sweep path '{'.'.join(path)}'"
    if len(path) < 3:
        raise CompileError(f"{where}: write kind.block.field, e.g. traffic.chat.requests", loc)
    kind, name, rest = path[0], path[1], path[2:]
    if kind not in KINDS:
        raise CompileError(f"{where}: unknown block kind '{kind}' (known: {', '.join(KINDS)})", loc)
    cls = KINDS[kind]
    index = next((i for i, b in enumerate(program.blocks) if isinstance(b, cls) and b.name == name), None)
    if index is None:
        known = ", ".join(sorted(b.name for b in program.blocks if isinstance(b, cls))) or "none declared"
        raise CompileError(f"{where}: no {kind} '{name}' (known: {known})", loc)
    block = program.blocks[index]
    items = merged_items(Scope.of_program(program), block) if block.base else list(block.items)
    new = dataclasses.replace(block, items=tuple(_set(items, rest, value, where, loc)), base=None)
    blocks = list(program.blocks)
    blocks[index] = new
    return ast.Program(file=program.file, uses=[], blocks=blocks)


def _set(items: list[Any], rest: tuple[str, ...], value: ast.Value, where: str, loc: ast.Loc) -> list[Any]:
    head = rest[0]
    pools = [i for i in items if isinstance(i, ast.Pool)]
    if head == "pool" and pools:
        return _replace(items, _pool(pools, rest[1:], value, where, loc))
    links = [i for i in items if isinstance(i, ast.Link)]
    if head == "link" and links and len(rest) == 4:
        link = next((k for k in links if (k.src, k.dst) == rest[1:3]), None)
        if link is None:
            known = ", ".join(f"{k.src}.{k.dst}" for k in links)
            raise CompileError(f"{where}: no link {rest[1]} -> {rest[2]} (links: {known})", loc)
        fields = tuple(_assign(list(link.items), rest[3], value, loc))
        return _replace(items, (link, dataclasses.replace(link, items=fields)))
    for sub in (i for i in items if isinstance(i, ast.SubBlock) and i.kind == head):
        named = sub.name is not None and len(rest) >= 3 and sub.name == rest[1]
        if named or (sub.name is None and len(rest) >= 2):
            inner = rest[2:] if named else rest[1:]
            return _replace(items, (sub, dataclasses.replace(sub, items=tuple(_set(list(sub.items), inner, value,
                                                                                    where, loc)))))
    targets = [i for i in items if isinstance(i, ast.Constraint)]
    if any(t.metric == head for t in targets):
        pct = _percentile(rest[1], where, loc) if len(rest) == 2 else None
        target = next((t for t in targets if t.metric == head and t.percentile == pct and len(rest) <= 2), None)
        if target is None:
            known = ", ".join(t.metric + (f".p{t.percentile:g}" if t.percentile is not None else "") for t in targets)
            raise CompileError(f"{where}: no such target (targets: {known})", loc)
        return _replace(items, (target, dataclasses.replace(target, value=value)))
    if len(rest) == 1:
        return _assign(items, head, value, loc)
    field = next((i for i in items if isinstance(i, ast.Assign) and i.key == head), None)
    if field is not None and isinstance(field.value, ast.Call) and len(rest) == 2:
        return _replace(items, (field, dataclasses.replace(field, value=_arg(field.value, rest[1], value, where,
                                                                                 loc))))
    raise CompileError(f"{where}: nothing to set at '{'.'.join(rest)}' (a field, a call's argument, a pool, "
                       f"a link, a section or an SLO target)", loc)


def _pool(pools: list[ast.Pool], rest: tuple[str, ...], value: ast.Value, where: str,
          loc: ast.Loc) -> tuple[ast.Pool, ast.Pool]:
    pool = next((p for p in pools if rest and p.name == rest[0]), None)
    if pool is None or len(rest) > 2:
        raise CompileError(f"{where}: name a pool and one of its fields, e.g. pool.{pools[0].name}.tp "
                           f"(pools: {', '.join(p.name for p in pools)})", loc)
    if len(rest) == 1:
        if not isinstance(value, ast.ChipCount):
            raise CompileError(f"{where}: a whole pool takes a chip count such as 8 x h100_sxm", value.loc)
        return pool, dataclasses.replace(pool, chips=value)
    field = rest[1]
    if field == "chips":
        if not isinstance(value, ast.Quantity):
            raise CompileError(f"{where}: a pool's chips is a number", value.loc)
        return pool, dataclasses.replace(pool, chips=dataclasses.replace(pool.chips, count=value))
    if field == "chip":
        if not isinstance(value, ast.Name):
            raise CompileError(f"{where}: a pool's chip is a chip name", value.loc)
        return pool, dataclasses.replace(pool, chips=dataclasses.replace(pool.chips, chip=value))
    return pool, dataclasses.replace(pool, options=tuple(_assign(list(pool.options), field, value, loc)))


def _arg(call: ast.Call, key: str, value: ast.Value, where: str, loc: ast.Loc) -> ast.Call:
    if any(k.key == key for k in call.kwargs):
        return dataclasses.replace(call, kwargs=tuple(dataclasses.replace(k, value=value) if k.key == key else k
                                                      for k in call.kwargs))
    if POSITIONAL.get(call.func) == key and len(call.args) == 1:
        return dataclasses.replace(call, args=(value,))
    if call.args:
        raise CompileError(f"{where}: {call.func}() has no argument '{key}' to set", loc)
    return dataclasses.replace(call, kwargs=call.kwargs + (ast.Assign(key, value, loc),))


def _assign(items: list[Any], key: str, value: ast.Value, loc: ast.Loc) -> list[Any]:
    """Sets ``key`` (an existing field keeps its place; a new one is appended, located at the sweep)."""
    field = next((i for i in items if isinstance(i, ast.Assign) and i.key == key), None)
    if field is None:
        return items + [ast.Assign(key, value, loc)]
    return _replace(items, (field, dataclasses.replace(field, value=value)))


def _replace(items: list[Any], change: tuple[Any, Any]) -> list[Any]:
    old, new = change
    return [new if i is old else i for i in items]


def _percentile(part: str, where: str, loc: ast.Loc) -> float:
    if not part.startswith("p"):
        raise CompileError(f"{where}: a target's percentile is written p99 or p99.9", loc)
    try:
        return float(part[1:])
    except ValueError:
        raise CompileError(f"{where}: a target's percentile is written p99 or p99.9", loc) from None
