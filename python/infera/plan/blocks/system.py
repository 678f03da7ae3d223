"""``system`` blocks → :class:`~infera.plan.specs.SystemSpec`: routers, the network between nodes, pools
(chips, parallelism, batching, memory options) and the links that carry KV caches between pools."""

from __future__ import annotations

import math

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan.checks import check_pool_shape
from infera.plan.stacks import STACKS
from infera.plan.fields import Fields, as_integer
from infera.plan.scope import Scope, merged_items, only_items
from infera.plan.specs import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BATCHED_TOKENS,
    DEFAULT_MEMORY_UTILIZATION,
    DEFAULT_NODE_SIZE,
    DEFAULT_STEP_OVERHEAD_S,
    FIRST_TOKEN,
    POLICIES,
    ROLES,
    ROUTERS,
    LinkSpec,
    PoolSpec,
    SystemSpec,
)


def compile_system(scope: Scope, block: ast.SystemBlock) -> SystemSpec:
    where = f"system '{block.name}'"
    items = merged_items(scope, block)
    only_items(items, (ast.Assign, ast.Pool, ast.Link, ast.SubBlock), where)
    f = Fields(where, items, block.loc)
    router = f.choice("router", ROUTERS, "round_robin")
    prefill_router = f.choice("prefill_router", ROUTERS, router)
    decode_router = f.choice("decode_router", ROUTERS, router)
    prefix_weight = f.quantity("prefix_weight", ("number",), 1.0, positive=False)
    f.done()
    network = _compile_network(where, [i for i in items if isinstance(i, ast.SubBlock)])
    pools = []
    names: dict[str, ast.Loc] = {}
    for p in (i for i in items if isinstance(i, ast.Pool)):
        if p.name in names:
            raise CompileError(f"{where}: duplicate pool '{p.name}' (first at {names[p.name]})", p.loc)
        names[p.name] = p.loc
        pools.append(_compile_pool(where, p, network))
    if not pools:
        raise CompileError(f"{where}: a system needs at least one pool", block.loc)
    roles = {p.name: p.role for p in pools}
    links = []
    seen_links: dict[tuple[str, str], ast.Loc] = {}
    for ln in (i for i in items if isinstance(i, ast.Link)):
        lw = f"{where} link {ln.src} -> {ln.dst}"
        for end in (ln.src, ln.dst):
            if end not in roles:
                raise CompileError(f"{lw}: no pool '{end}' in this system (pools: {', '.join(roles)})", ln.loc)
        if roles[ln.src] != "prefill" or roles[ln.dst] != "decode":
            raise CompileError(f"{lw}: a link carries KV caches from a prefill pool to a decode pool "
                               f"('{ln.src}' is {roles[ln.src]}, '{ln.dst}' is {roles[ln.dst]})", ln.loc)
        if (ln.src, ln.dst) in seen_links:
            raise CompileError(f"{lw}: duplicate link (first at {seen_links[(ln.src, ln.dst)]})", ln.loc)
        seen_links[(ln.src, ln.dst)] = ln.loc
        lf = Fields(lw, ln.items, ln.loc)
        bw = lf.quantity("bandwidth", ("bandwidth",), required=True)
        lat = lf.quantity("latency", ("time",), 0.0, positive=False)
        lf.done()
        links.append(LinkSpec(ln.src, ln.dst, bw, lat, ln.loc))
    for p in pools:
        if p.role == "prefill" and not any(ln.src == p.name for ln in links):
            raise CompileError(f"{where}: prefill pool '{p.name}' has no link to a decode pool "
                               f"(add: link {p.name} -> DECODE_POOL {{ bandwidth = ... }})", p.loc)
        if p.role == "decode" and not any(ln.dst == p.name for ln in links):
            raise CompileError(f"{where}: decode pool '{p.name}' has no link from a prefill pool", p.loc)
    return SystemSpec(block.name, pools, links, prefill_router, decode_router, block.loc, prefix_weight)


def _compile_network(where: str, subs: list[ast.SubBlock]) -> tuple[int, float, float]:
    """A system's ``network { node_size = 8, bandwidth = 50 GB/s, latency = 5 us }``: (node size, per-chip
    bandwidth or 0, latency), the defaults of its pools."""
    node, bw, lat = DEFAULT_NODE_SIZE, 0.0, 0.0
    seen: ast.Loc | None = None
    for sub in subs:
        if sub.kind != "network" or sub.name is not None:
            label = sub.kind + (f" {sub.name}" if sub.name else "")
            raise CompileError(f"{where}: a '{label}' block is not allowed in a system (only network {{ ... }})",
                               sub.loc)
        if seen is not None:
            raise CompileError(f"{where}: network given twice (first at {seen})", sub.loc)
        seen = sub.loc
        nw = f"{where} network"
        only_items(list(sub.items), (ast.Assign,), nw)
        nf = Fields(nw, sub.items, sub.loc)
        node = nf.integer("node_size", node, dims=("number",))
        bw = nf.quantity("bandwidth", ("bandwidth",), bw)
        lat = nf.quantity("latency", ("time",), lat, positive=False)
        nf.done()
    return node, bw, lat


#: Pool keys a stack profile gives defaults for (DSL spelling → PoolSpec field).
_STACK_KEYS = {"max_batch": "max_batch", "max_batched_tokens": "max_batched_tokens",
               "chunked_prefill": "chunked_prefill", "policy": "policy", "block_size": "block_size",
               "memory_utilization": "memory_utilization", "step_overhead": "step_overhead_s",
               "graph_max_tokens": "graph_max_tokens", "graph_prefill": "graph_prefill",
               "graph_pad": "graph_pad_tokens",
               "eager_launch": "eager_launch_s", "step_overhead_per_seq": "step_overhead_per_seq_s",
               "step_overhead_per_layer": "step_overhead_per_layer_s",
               "recv_interval": "recv_interval", "frontend_per_token": "frontend_per_token_s",
               "prefix_cache": "prefix_cache"}


def _compile_pool(where: str, p: ast.Pool, network: tuple[int, float, float]) -> PoolSpec:
    pw = f"{where} pool '{p.name}'"
    pf = Fields(pw, p.options, p.loc)
    chips = as_integer(p.chips.count, f"{pw}: chip count", minimum=0)
    if chips == 0:
        raise CompileError(f"{pw}: a pool needs at least one chip", p.chips.loc)
    tp = pf.integer("tp", 1)
    role = pf.choice("role", ROLES, "mixed")
    stack = pf.choice("stack", tuple(STACKS), "")
    # Fields set here win over the stack's defaults, which depend on the chip and are filled in at lowering.
    given = frozenset(_STACK_KEYS[k] for k in _STACK_KEYS if pf.has(k)) | (
        frozenset({"max_batched_tokens", "chunked_prefill"}) if pf.has("chunked_prefill") else frozenset())
    max_batch = pf.integer("max_batch", DEFAULT_MAX_BATCH)
    mbt = pf.integer("max_batched_tokens", None)
    block_size = pf.integer("block_size", DEFAULT_BLOCK_SIZE)
    chunked = True
    cp = pf.take("chunked_prefill")
    if cp is not None:
        if isinstance(cp.value, ast.Bool):
            chunked = cp.value.value
        else:
            budget = as_integer(cp.value, f"{pw}: chunked_prefill")
            if mbt is not None and mbt != budget:
                raise CompileError(f"{pw}: chunked_prefill ({budget}) and max_batched_tokens ({mbt}) disagree",
                                   cp.loc)
            mbt = budget
    policy = pf.choice("policy", POLICIES, "decode_first")
    mem_util = pf.quantity("memory_utilization", ("number",), DEFAULT_MEMORY_UTILIZATION)
    if not 0 < mem_util <= 1:
        raise CompileError(f"{pw}: memory_utilization must be in (0, 1]", p.loc)
    overhead = pf.quantity("step_overhead", ("time",), DEFAULT_STEP_OVERHEAD_S, positive=False)
    graph_max = pf.integer("graph_max_tokens", None, minimum=0)
    graph_prefill = pf.boolean("graph_prefill", True)
    graph_pad = pf.integer("graph_pad", 1)
    eager = pf.quantity("eager_launch", ("time",), 0.0, positive=False)
    per_seq = pf.quantity("step_overhead_per_seq", ("time",), 0.0, positive=False)
    per_layer = pf.quantity("step_overhead_per_layer", ("time",), 0.0, positive=False)
    recv_interval = pf.integer("recv_interval", 1, dims=("number",))
    frontend = pf.quantity("frontend_per_token", ("time",), 0.0, positive=False)
    frontend_workers = pf.integer("frontend_workers", 1, dims=("number",))
    ft = pf.values.get("first_token")
    if ft is not None and role != "prefill":
        raise CompileError(f"{pw}: first_token applies to a prefill pool (role = prefill), not a {role} one", ft.loc)
    first_token = pf.choice("first_token", FIRST_TOKEN, "decode")
    max_queue = pf.integer("max_queue", 0, minimum=1)
    queue_timeout = pf.quantity("queue_timeout", ("time",), math.inf)
    pp = pf.integer("pp", 1, dims=("number",))
    ep = pf.integer("ep", 1, dims=("number",))
    dp_a = pf.values.get("dp_attention")
    dp_attention = pf.integer("dp_attention", 1, dims=("number",))
    redundant_experts = pf.integer("redundant_experts", 0, minimum=0, dims=("number",))
    mb_a = pf.values.get("microbatches")
    microbatches = pf.integer("microbatches", pp, dims=("number",))
    node_size = pf.integer("node_size", network[0], dims=("number",))
    net_bw = pf.quantity("network_bandwidth", ("bandwidth",), network[1] or None) or 0.0
    net_lat = pf.quantity("network_latency", ("time",), network[2], positive=False)
    weights_in = pf.name("weights_in", required=False)
    kv_in = pf.name("kv_in", required=False)
    prefix_cache = pf.boolean("prefix_cache", True)
    prefix_cache_blocks = pf.integer("prefix_cache_blocks", None, minimum=0)
    pf.done()
    budget = mbt if mbt is not None else DEFAULT_MAX_BATCHED_TOKENS
    spec = PoolSpec(p.name, p.chips.chip.id, chips, tp, role, max_batch, budget, block_size, chunked, policy,
                    mem_util, overhead, p.loc, p.chips.chip.loc, max_queue, queue_timeout, pp, ep, microbatches,
                    node_size, net_bw, net_lat, weights_in, kv_in, dp_attention=dp_attention,
                    redundant_experts=redundant_experts, stack=stack,
                    stack_given=given, graph_max_tokens=graph_max, graph_prefill=graph_prefill,
                    graph_pad_tokens=graph_pad, eager_launch_s=eager, step_overhead_per_seq_s=per_seq,
                    step_overhead_per_layer_s=per_layer,
                    recv_interval=recv_interval, frontend_per_token_s=frontend,
                    frontend_workers=frontend_workers,
                    first_token_at_decode=role == "prefill" and first_token == "decode", prefix_cache=prefix_cache,
                    prefix_cache_blocks=prefix_cache_blocks)
    check_pool_shape(spec, pw, mb_a, dp_a)
    return spec
