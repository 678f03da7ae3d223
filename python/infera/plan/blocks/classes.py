"""``class <name> { ... }`` sub-blocks of a traffic block → a mix of traffic classes
(:class:`~infera.plan.traffic.ClassSpec`), sampled by :mod:`infera.plan.traffic.mix`.

Two ways to mix, chosen by where the arrivals are:

- the block gives ``arrivals`` and no class does: one stream, each request's class drawn by ``weight``;
- any class gives ``arrivals``: every class is a stream of its own (its arrivals, ``requests`` and
  ``duration`` default to the block's), superposed in time; the block's ``requests`` caps the merged stream.
  A ``weight`` means nothing then and is an error.

Every class's lengths (``prompt``, ``output``, ``correlation``) default to the block's.
"""

from __future__ import annotations

import dataclasses

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan import traffic as traffic_mod
from infera.plan.blocks.stream import STREAM_KEYS, read_stream
from infera.plan.fields import Fields
from infera.plan.scope import only_items
from infera.plan.traffic.lengths import Mixture

#: Most classes one traffic block may mix (the core indexes them with 32 bits; this keeps plans sane).
MAX_CLASSES = 1024
#: Largest priority (vLLM takes any integer; ours are 0 and up, lowest admitted first).
MAX_PRIORITY = 2**31 - 1


def compile_mix(where: str, f: Fields, subs: list[ast.SubBlock], block: ast.TrafficBlock) -> traffic_mod.TrafficSpec:
    for s in subs:
        if s.kind != "class" or s.name is None:
            raise CompileError(f"{where}: only 'class <name> {{ ... }}' sub-blocks are allowed here", s.loc)
    if f.has("trace"):
        raise CompileError(f"{where}: a trace cannot be mixed with classes (yet)", f.values["trace"].loc)
    if len(subs) > MAX_CLASSES:
        raise CompileError(f"{where}: at most {MAX_CLASSES} classes, got {len(subs)}", subs[MAX_CLASSES].loc)
    seen: dict[str, ast.Loc] = {}
    for s in subs:
        if s.name in seen:
            raise CompileError(f"{where}: class '{s.name}' defined twice (first at {seen[s.name]})", s.loc)
        seen[s.name] = s.loc
    own = any(isinstance(i, ast.Assign) and i.key == "arrivals" for s in subs for i in s.items)
    defaults = {k: f.take(k) for k in STREAM_KEYS}
    f.done()
    if not own and defaults["arrivals"] is None:
        raise CompileError(f"{where}: missing required field 'arrivals' (the block's, or one per class)", block.loc)
    classes = [_class(where, block.name, s, defaults, own) for s in subs]
    for c in classes:
        if c.traffic.arrivals == "closed" and not own:
            raise CompileError(f"{where} class '{c.name}': closed-loop users need a stream of their own: give "
                               f"the class its own arrivals = closed(...)", c.loc)
        # Sessions and system prompts are drawn per stream, so a class needs a stream of its own for them.
        if (c.traffic.session is not None or c.traffic.system_prompt is not None) and not own:
            raise CompileError(f"{where} class '{c.name}': a class with a session or a system prompt needs "
                               f"arrivals of its own (a shared stream only draws each request's class)", c.loc)
    if own and defaults["requests"] is not None and any(c.traffic.session is not None or
                                                         c.traffic.arrivals == "closed" for c in classes):
        raise CompileError(f"{where}: with sessions or closed-loop users in its classes, bound each class "
                           f"with its own 'requests' (the block's would cut conversations and users' loops at an "
                           f"arbitrary request)",
                           defaults["requests"].loc)
    parts = Mixture("mixture", weights=tuple(c.weight for c in classes),
                    parts=tuple(c.traffic.prompt for c in classes))
    outputs = dataclasses.replace(parts, parts=tuple(c.traffic.output for c in classes))
    requests = _int(defaults["requests"], where)
    duration = classes[0].traffic.duration_s if not own else _duration(defaults["duration"], where)
    if own:
        return traffic_mod.TrafficSpec(block.name, "mix", block.loc, requests=requests, duration_s=duration,
                                       prompt=parts, output=outputs, classes=tuple(classes))
    # One stream: the block's arrival process, as every class reads it (they all share the block's fields).
    first = classes[0].traffic
    return dataclasses.replace(first, name=block.name, loc=block.loc, prompt=parts, output=outputs, correlation=None,
                               classes=tuple(classes))


def _class(where: str, block: str, s: ast.SubBlock, defaults: dict[str, ast.Assign | None],
           own: bool) -> traffic_mod.ClassSpec:
    cwhere = f"{where} class '{s.name}'"
    only_items(list(s.items), (ast.Assign,), cwhere)
    cf = Fields(cwhere, s.items, s.loc)
    weight_a = cf.values.get("weight")
    weight = cf.quantity("weight", ("number",), 1.0)
    if own and weight_a is not None:
        raise CompileError(f"{cwhere}: weight means nothing when classes have arrivals of their own (each class "
                           f"is its own stream); remove it or the classes' arrivals", weight_a.loc)
    priority = cf.integer("priority", 0, minimum=0, dims=("number",))
    if priority > MAX_PRIORITY:
        raise CompileError(f"{cwhere}: priority is at most {MAX_PRIORITY}", cf.loc)
    slo = cf.name("slo", required=False)
    if not own:
        for key in ("requests", "duration"):
            if cf.has(key):
                raise CompileError(f"{cwhere}: '{key}' belongs to the block when the classes share its "
                                   f"arrivals", cf.values[key].loc)
    mine = [cf.values.pop(k) for k in list(cf.values) if k in STREAM_KEYS]
    cf.done()
    inherited = [a for k, a in defaults.items() if a is not None and k not in {m.key for m in mine}]
    stream = read_stream(f"{block}/{s.name}", cwhere, Fields(cwhere, inherited + mine, s.loc), s.loc)
    return traffic_mod.ClassSpec(s.name, s.loc, stream, weight=weight, priority=priority,
                                 slo=slo.id if slo is not None else None, slo_loc=slo.loc if slo is not None else None)


def _int(a: ast.Assign | None, where: str) -> int | None:
    return None if a is None else Fields(where, [a], a.loc).integer(a.key)


def _duration(a: ast.Assign | None, where: str) -> float | None:
    return None if a is None else Fields(where, [a], a.loc).quantity(a.key, ("time",))
