"""``traffic`` blocks → :class:`~infera.plan.traffic.TrafficSpec`: one stream (:mod:`.stream`: arrivals,
lengths, sessions), a replayed trace (:mod:`.trace`), or a mix of ``class`` sub-blocks (:mod:`.classes`)."""

from __future__ import annotations

from infera.dsl import ast
from infera.plan import traffic as traffic_mod
from infera.plan.blocks.classes import compile_mix
from infera.plan.blocks.stream import read_stream
from infera.plan.blocks.trace import compile_trace
from infera.plan.fields import Fields
from infera.plan.scope import Scope, merged_items, only_items


def compile_traffic(scope: Scope, block: ast.TrafficBlock) -> traffic_mod.TrafficSpec:
    items = merged_items(scope, block)
    where = f"traffic '{block.name}'"
    only_items(items, (ast.Assign, ast.SubBlock), where)
    subs = [i for i in items if isinstance(i, ast.SubBlock)]
    f = Fields(where, [i for i in items if isinstance(i, ast.Assign)], block.loc)
    f.take("source")  # where a catalog profile's figures come from
    if subs:
        return compile_mix(where, f, subs, block)
    if f.has("trace"):
        return compile_trace(where, f, block)
    return read_stream(block.name, where, f, block.loc)
