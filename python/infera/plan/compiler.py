"""The compiler: a parsed program → a validated :class:`~infera.plan.tables.Plan`.

It resolves names (the file's own blocks, then ``use``d catalog entries), checks every field's type and
unit, checks that each system can hold its model (weights plus the KV cache of the longest request), derives
the operator coefficients and samples the request streams. Every problem is a
:class:`~infera.exceptions.CompileError` carrying the location of the offending node.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan import model as model_mod
from infera.plan import traffic as traffic_mod
from infera.plan.fields import Fields, describe, as_integer, as_quantity
from infera.plan.specs import (
    ChipSpec,
    DEFAULT_BLOCK_SIZE,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BATCHED_TOKENS,
    DEFAULT_MEMORY_UTILIZATION,
    DEFAULT_NODE_SIZE,
    DEFAULT_STEP_OVERHEAD_S,
    DTYPES,
    EngineInfo,
    GB,
    LinkSpec,
    MAX_INSTANCES,
    MAX_REQUESTS,
    MAX_TOKENS,
    METRICS,
    POLICIES,
    PoolSpec,
    RECORDABLE,
    ROLES,
    ROUTERS,
    RunSpec,
    Scope,
    SearchSpec,
    SloSpec,
    SystemSpec,
    merged_items,
    only_items,
)
from infera.plan.hardware import check_chip_runs, tiered, compile_chip, kv_blocks_for, place_memory
from infera.plan.tables import Plan


# ----------------------------------------------------------------------------------------------------------
# Block compilers


def compile_model(scope: Scope, block: ast.Block) -> model_mod.ModelShape:
    items = merged_items(scope, block)
    where = f"model '{block.name}'"
    only_items(items, (ast.Assign,), where)
    f = Fields(where, items, block.loc)
    layers = f.integer("layers", required=True)
    hidden = f.integer("hidden", required=True)
    heads_a = f.values.get("heads")
    heads = f.integer("heads", required=True)
    kv_heads = f.integer("kv_heads", heads)
    head_dim = f.integer("head_dim", hidden // heads if hidden % heads == 0 else None)
    if head_dim is None:
        raise CompileError(f"{where}: hidden ({hidden}) is not a multiple of heads ({heads}); set head_dim", block.loc)
    intermediate = f.integer("intermediate", required=True)
    vocab = f.integer("vocab", required=True)
    tied = f.boolean("tied_embeddings", False)
    weights = f.choice("weights", DTYPES, "bf16")
    kv = f.choice("kv", DTYPES, "bf16")
    compute = f.choice("compute", DTYPES, "")
    attention = f.choice("attention", ("gqa", "mha", "mqa", "mla"), "gqa")
    moe, mla = _model_moe(f, where, block, layers, intermediate), _model_mla(f, where, block, attention)
    f.take("family")
    f.take("source")
    f.done()
    if heads % kv_heads != 0:
        raise CompileError(f"{where}: heads ({heads}) must be a multiple of kv_heads ({kv_heads})",
                           heads_a.loc if heads_a else block.loc)
    return model_mod.ModelShape(block.name, layers, hidden, heads, kv_heads, head_dim, intermediate, vocab,
                                tied, weights, kv, attention="mla" if mla else "gqa", compute_dtype=compute,
                                **moe, **mla)


_MOE_FIELDS = ("experts", "experts_per_token", "shared_experts", "moe_intermediate", "dense_layers")
_MLA_FIELDS = ("kv_lora_rank", "q_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim")


def _model_moe(f: Fields, where: str, block: ast.Block, layers: int, intermediate: int) -> dict[str, int]:
    """The mixture-of-experts fields of a model block ({} for a dense model)."""
    if not f.has("experts"):
        for key in _MOE_FIELDS:
            if f.has(key):
                raise CompileError(f"{where}: '{key}' needs experts = N (a mixture-of-experts model)",
                                   f.values[key].loc)
        return {}
    experts_a = f.values["experts"]
    experts = f.integer("experts", required=True, minimum=2)
    k = f.integer("experts_per_token", required=True)
    if k > experts:
        raise CompileError(f"{where}: experts_per_token ({k}) exceeds experts ({experts})", experts_a.loc)
    shared = f.integer("shared_experts", 0, minimum=0)
    width = f.integer("moe_intermediate", intermediate)
    dense = f.integer("dense_layers", 0, minimum=0)
    if dense >= layers:
        raise CompileError(f"{where}: dense_layers ({dense}) must leave at least one MoE layer of {layers}",
                           block.loc)
    return {"experts": experts, "experts_per_token": k, "shared_experts": shared, "moe_intermediate": width,
            "dense_layers": dense}


def _model_mla(f: Fields, where: str, block: ast.Block, attention: str) -> dict[str, int]:
    """The multi-head latent attention fields of a model block ({} unless attention = mla)."""
    if attention != "mla":
        for key in _MLA_FIELDS:
            if f.has(key):
                raise CompileError(f"{where}: '{key}' needs attention = mla", f.values[key].loc)
        return {}
    return {
        "kv_lora_rank": f.integer("kv_lora_rank", required=True),
        "q_lora_rank": f.integer("q_lora_rank", 0, minimum=0),
        "qk_rope_head_dim": f.integer("qk_rope_head_dim", required=True),
        "qk_nope_head_dim": f.integer("qk_nope_head_dim", required=True),
        "v_head_dim": f.integer("v_head_dim", required=True),
    }


def _length_dist(v: ast.Value, what: str) -> traffic_mod.LengthDist:
    d = _length_dist_unchecked(v, what)
    for x in (d.value, d.min, d.max):
        if math.isfinite(x) and x > MAX_TOKENS:
            raise CompileError(f"{what}: at most {MAX_TOKENS:_} tokens per request, got {x:_.0f}", v.loc)
    return d


def _length_dist_unchecked(v: ast.Value, what: str) -> traffic_mod.LengthDist:
    if isinstance(v, ast.Quantity):
        return traffic_mod.LengthDist("fixed", value=as_integer(v, what))
    if isinstance(v, ast.Call) and v.func in ("lognormal", "uniform", "fixed"):
        if v.args:
            raise CompileError(f"{what}: {v.func}() takes named arguments only", v.loc)
        f = Fields(f"{what} {v.func}()", v.kwargs, v.loc)
        lo = f.integer("min", 1)
        hi = f.integer("max", None)
        if v.func == "lognormal":
            med = f.quantity("median", ("tokens", "number"), required=True)
            sigma = f.quantity("sigma", ("number",), required=True, positive=False)
            f.done()
            d = traffic_mod.LengthDist("lognormal", median=med, sigma=sigma, min=lo, max=hi or math.inf)
        elif v.func == "uniform":
            if hi is None:
                raise CompileError(f"{what}: uniform() needs max", v.loc)
            f.done()
            d = traffic_mod.LengthDist("uniform", min=lo, max=hi)
        else:
            val = f.integer("value", required=True)
            f.done()
            d = traffic_mod.LengthDist("fixed", value=val)
        if d.max < d.min:
            raise CompileError(f"{what}: max ({d.max:g}) is below min ({d.min:g})", v.loc)
        return d
    raise CompileError(f"{what} must be a token count (e.g. 512 tokens) or lognormal(...)/uniform(...), "
                       f"got {describe(v)}", v.loc)


def _compile_trace(where: str, f: Fields, block: ast.Block) -> traffic_mod.TrafficSpec:
    """``trace = "file.csv"``: requests replayed from a file (CSV or Parquet), resolved next to the program."""
    ta = f.require("trace")
    if not isinstance(ta.value, ast.String):
        raise CompileError(f"{where}: trace must be a quoted file name", ta.value.loc)
    scale = f.quantity("time_scale", ("number",), 1.0)
    requests = f.integer("requests")
    duration = f.quantity("duration", ("time",))
    for key in ("arrivals", "prompt", "output"):
        if f.has(key):
            raise CompileError(f"{where}: a trace gives arrivals and lengths itself; remove '{key}'",
                               f.values[key].loc)
    f.done()
    path = Path(ta.value.value)
    if not path.is_absolute() and not block.loc.file.startswith("<"):
        path = Path(block.loc.file).resolve().parent / path
    try:
        stream = traffic_mod.load_trace(path, time_scale=scale, requests=requests, duration_s=duration)
    except traffic_mod.TraceError as exc:
        raise CompileError(f"{where}: {exc}", ta.value.loc) from None
    return traffic_mod.TrafficSpec(block.name, "trace", requests=len(stream.arrival_s), duration_s=duration,
                                   trace=stream)


def compile_traffic(scope: Scope, block: ast.Block) -> traffic_mod.TrafficSpec:
    items = merged_items(scope, block)
    where = f"traffic '{block.name}'"
    only_items(items, (ast.Assign,), where)
    f = Fields(where, items, block.loc)
    if f.has("trace"):
        return _compile_trace(where, f, block)
    arr = f.require("arrivals")
    requests = f.integer("requests")
    duration = f.quantity("duration", ("time",))
    prompt = _length_dist(f.require("prompt").value, f"{where}: prompt")
    output = _length_dist(f.require("output").value, f"{where}: output")
    f.done()
    v = arr.value
    func = v.func if isinstance(v, ast.Call) else v.id if isinstance(v, ast.Name) else None
    kind, rate, users, think = "", 0.0, 0, 0.0
    if func == "poisson":
        if not isinstance(v, ast.Call) or len(v.args) + len(v.kwargs) != 1:
            raise CompileError(f"{where}: poisson() takes one rate, e.g. poisson(8 /s)", v.loc)
        rv = v.args[0] if v.args else v.kwargs[0].value
        rate = as_quantity(rv, ("rate",), f"{where}: poisson rate")
        kind = "poisson"
        if requests is None and duration is None:
            raise CompileError(f"{where}: give requests = N or duration = T", block.loc)
        if requests is None and rate * duration > MAX_REQUESTS:
            raise CompileError(f"{where}: poisson({rate:g} /s) for {duration:g} s is about {rate * duration:.3g} "
                               f"requests, more than the {MAX_REQUESTS} a traffic block may have; set requests = N "
                               f"or a shorter duration", block.loc)
    elif func == "burst":
        if isinstance(v, ast.Call) and (v.args or v.kwargs):
            raise CompileError(f"{where}: burst takes no arguments", v.loc)
        kind = "burst"
        if requests is None:
            raise CompileError(f"{where}: burst arrivals need requests = N", block.loc)
        if duration is not None:
            raise CompileError(f"{where}: burst arrivals all come at time zero; a duration means nothing",
                               block.loc)
    elif func == "closed":
        if not isinstance(v, ast.Call):
            raise CompileError(f"{where}: closed() needs users = N", v.loc)
        cf = Fields(f"{where} closed()", v.kwargs, v.loc)
        if v.args:
            users = as_integer(v.args[0], f"{where}: closed() users")
        else:
            users = cf.integer("users", required=True)
        think = cf.quantity("think", ("time",), 0.0, positive=False)
        cf.done()
        kind = "closed"
        if requests is None:
            raise CompileError(f"{where}: closed-loop traffic needs requests = N (a duration alone gives no "
                               f"bound on how many requests to prepare; add requests as the cap)", block.loc)
    else:
        raise CompileError(f"{where}: arrivals must be poisson(rate), burst or closed(users = N), "
                           f"got {describe(v)}", v.loc)
    return traffic_mod.TrafficSpec(block.name, kind, rate, users, think, requests, duration, prompt, output)


def compile_slo(scope: Scope, block: ast.Block) -> SloSpec:
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


def compile_system(scope: Scope, block: ast.Block) -> SystemSpec:
    where = f"system '{block.name}'"
    items = merged_items(scope, block)
    only_items(items, (ast.Assign, ast.Pool, ast.Link, ast.SubBlock), where)
    f = Fields(where, items, block.loc)
    router = f.choice("router", ROUTERS, "round_robin")
    prefill_router = f.choice("prefill_router", ROUTERS, router)
    decode_router = f.choice("decode_router", ROUTERS, router)
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
    return SystemSpec(block.name, pools, links, prefill_router, decode_router, block.loc)


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


def _compile_pool(where: str, p: ast.Pool,
                  network: tuple[int, float, float] = (DEFAULT_NODE_SIZE, 0.0, 0.0)) -> PoolSpec:
    pw = f"{where} pool '{p.name}'"
    pf = Fields(pw, p.options, p.loc)
    chips = as_integer(p.chips.count, f"{pw}: chip count", minimum=0)
    if chips == 0:
        raise CompileError(f"{pw}: a pool needs at least one chip", p.chips.loc)
    tp = pf.integer("tp", 1)
    role = pf.choice("role", ROLES, "mixed")
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
    max_queue = pf.integer("max_queue", 0, minimum=1)
    queue_timeout = pf.quantity("queue_timeout", ("time",), math.inf)
    pp = pf.integer("pp", 1, dims=("number",))
    ep = pf.integer("ep", 1, dims=("number",))
    mb_a = pf.values.get("microbatches")
    microbatches = pf.integer("microbatches", pp, dims=("number",))
    node_size = pf.integer("node_size", network[0], dims=("number",))
    net_bw = pf.quantity("network_bandwidth", ("bandwidth",), network[1] or None) or 0.0
    net_lat = pf.quantity("network_latency", ("time",), network[2], positive=False)
    weights_in = pf.name("weights_in", required=False)
    kv_in = pf.name("kv_in", required=False)
    pf.done()
    if chips % (tp * pp):
        shape = f"tp = {tp}" + (f" x pp = {pp}" if pp > 1 else "")
        raise CompileError(f"{pw}: {chips} chips do not divide into instances of {shape}", p.loc)
    if mb_a is not None and pp == 1:
        raise CompileError(f"{pw}: microbatches splits a step across pipeline stages; it needs pp > 1", mb_a.loc)
    if tp % ep:
        raise CompileError(f"{pw}: ep = {ep} must divide tp = {tp} (experts are spread over the chips of a "
                           f"pipeline stage)", p.loc)
    spec = PoolSpec(p.name, p.chips.chip.id, chips, tp, role, max_batch,
                    mbt if mbt is not None else DEFAULT_MAX_BATCHED_TOKENS, block_size, chunked, policy,
                    mem_util, overhead, p.loc, p.chips.chip.loc, max_queue, queue_timeout, pp, ep, microbatches,
                    node_size, net_bw, net_lat)
    spec.weights_in, spec.kv_in = weights_in, kv_in
    return spec


def compile_run(scope: Scope, block: ast.Block) -> RunSpec:
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


# ----------------------------------------------------------------------------------------------------------
# Whole programs


class Compiler:
    """Compiles one program; ``compile()`` returns the plan.

    ``traffic_rates`` replaces the Poisson rate of named traffic blocks and ``select`` keeps one
    ``(run, system)`` pair: both serve searches that re-simulate a file at other rates.
    """

    def __init__(self, program: ast.Program, catalog_loader: Callable[[ast.Use], ast.Block] | None = None, *,
                 traffic_rates: dict[str, float] | None = None, select: tuple[str, str] | None = None) -> None:
        self.program = program
        self.traffic_rates = traffic_rates or {}
        self.select = select
        self.scope = Scope()
        for use in program.uses:
            if catalog_loader is None:
                from infera.catalog import resolve

                catalog_loader = resolve
            for block in _catalog_blocks(catalog_loader, use):
                self.scope.add(block)
        for block in program.blocks:
            self.scope.add(block)

    def compile(self) -> Plan:
        runs_blocks = list(self.scope.blocks.get("run", {}).values())
        if not runs_blocks:
            raise CompileError(f"{self.program.file}: nothing to run (add a run block)",
                               ast.Loc(self.program.file, 1, 1))
        if self.scope.blocks.get("sweep"):
            b = next(iter(self.scope.blocks["sweep"].values()))
            raise CompileError("sweep blocks are not supported yet", b.loc)
        # Every declared block is checked, used or not, so mistakes surface before a long run.
        models = {n: compile_model(self.scope, b) for n, b in self.scope.blocks.get("model", {}).items()}
        chips = {n: compile_chip(self.scope, b) for n, b in self.scope.blocks.get("chip", {}).items()}
        traffics = {n: compile_traffic(self.scope, b) for n, b in self.scope.blocks.get("traffic", {}).items()}
        slos = {n: compile_slo(self.scope, b) for n, b in self.scope.blocks.get("slo", {}).items()}
        systems = {n: compile_system(self.scope, b) for n, b in self.scope.blocks.get("system", {}).items()}
        runs = [compile_run(self.scope, b) for b in runs_blocks]
        for name, rate in self.traffic_rates.items():
            if traffics[name].arrivals != "poisson":
                raise CompileError(f"traffic '{name}': only Poisson arrivals have a rate to vary",
                                   self.scope.get("traffic", name, ast.Loc(self.program.file, 1, 1)).loc)
            traffics[name] = dataclasses.replace(traffics[name], rate=rate)
        if self.select is not None:
            runs = [dataclasses.replace(r, systems=[s for s in r.systems if s[0] == self.select[1]])
                    for r in runs if r.name == self.select[0]]
            if not runs or not runs[0].systems:
                raise CompileError(f"no run '{self.select[0]}' with system '{self.select[1]}'",
                                   ast.Loc(self.program.file, 1, 1))

        cols: dict[str, dict[str, list[Any]]] = {k: {} for k in
                                                  ("chips", "engines", "models", "operators", "workloads",
                                                   "requests", "runs", "pools", "links", "slos",
                                                   "memories", "profiles")}

        def add(table: str, **row: Any) -> int:
            t = cols[table]
            n = len(next(iter(t.values()))) if t else 0
            for k, v in row.items():
                t.setdefault(k, []).append(v)
            return n

        chip_ids: dict[str, int] = {}
        model_ids: dict[str, int] = {}
        workload_ids: dict[tuple[str, int], int] = {}
        request_parts: list[tuple[int, traffic_mod.Stream]] = []

        def chip_id(name: str, loc: ast.Loc) -> int:
            if name not in chip_ids:
                if name not in chips:
                    self.scope.get("chip", name, loc)
                c = chips[name]
                chip_ids[name] = add("chips", name=c.name, memory_bytes=c.memory_bytes, memory_bw=c.memory_bw,
                                     memory_efficiency=c.memory_efficiency, link_bw=c.link_bw,
                                     link_latency_s=c.link_latency_s, power_busy_w=c.power_busy_w,
                                     power_idle_w=c.power_idle_w, price_per_hour=c.price_per_hour,
                                     matmul_engine=",".join(c.matmul_route),
                                     attention_engine=",".join(c.attention_route),
                                     kernel_overhead_s=c.kernel_overhead_s)
                infos = c.engine_info or [EngineInfo(k) for k, *_ in c.engines]
                for (kind, dt, rate, eff), info in zip(c.engines, infos):
                    add("engines", chip=chip_ids[name], kind=kind, dtype=dt, flops=rate, efficiency=eff,
                        name=info.name, energy_per_flop=info.energy_per_flop, conversion_bw=info.conversion_bw,
                        conversion_energy_per_byte=info.conversion_energy)
                self._add_chip_hardware(add, chip_ids[name], c)
            return chip_ids[name]

        def model_id(name: str, loc: ast.Loc) -> int:
            if name not in model_ids:
                if name not in models:
                    self.scope.get("model", name, loc)
                m = models[name]
                mid = add("models", name=m.name, layers=m.layers, hidden=m.hidden, heads=m.heads,
                          kv_heads=m.cache_kv_heads, head_dim=m.head_dim, intermediate=m.intermediate, vocab=m.vocab,
                          weight_dtype=m.weight_dtype, kv_dtype=m.kv_dtype, weight_bytes=m.weight_bytes(),
                          kv_bytes_per_token=m.kv_bytes_per_token(), attention=m.attention, experts=m.experts,
                          experts_per_token=m.experts_per_token, params=float(m.params()),
                          active_params=float(m.active_params()))
                model_ids[name] = mid
                for op in model_mod.operators(m):
                    add("operators", model=mid, name=op.name, engine=op.engine, dtype=op.dtype, count=op.count,
                        flops_per_token=op.flops_per_token, flops_per_sampled=op.flops_per_sampled,
                        flops_per_attn_pair=op.flops_per_attn_pair, weight_bytes=op.weight_bytes,
                        bytes_per_token=op.bytes_per_token, bytes_per_sampled=op.bytes_per_sampled,
                        bytes_per_kv_token=op.bytes_per_kv_token, tp_shard=op.tp_shard, experts=op.experts,
                        experts_per_token=op.experts_per_token)
            return model_ids[name]

        for run in runs:
            if run.model not in models:
                self.scope.get("model", run.model, run.model_loc)
            if run.traffic not in traffics:
                self.scope.get("traffic", run.traffic, run.traffic_loc)
            shape = models[run.model]
            spec = traffics[run.traffic]
            key = (run.traffic, run.seed)
            if key not in workload_ids:
                traffic_loc = self.scope.get("traffic", run.traffic, run.traffic_loc).loc
                try:
                    stream = traffic_mod.sample(spec, run.seed)
                except MemoryError:
                    raise CompileError(f"traffic '{spec.name}': not enough memory to sample its requests",
                                       traffic_loc) from None
                if len(stream.arrival_s) == 0:
                    raise CompileError(f"traffic '{spec.name}' produces no requests (duration too short for "
                                       f"its rate?)", traffic_loc)
                if spec.arrivals != "closed" and not np.isfinite(stream.arrival_s).all():
                    why = (f"its rate ({spec.rate:g} /s) is too small" if spec.arrivals == "poisson" else
                           "time_scale is too large")
                    raise CompileError(f"traffic '{spec.name}': arrival times overflow to infinity ({why})",
                                       traffic_loc)
                workload_ids[key] = add("workloads", name=spec.name,
                                        kind="closed" if spec.arrivals == "closed" else "open",
                                        users=spec.users, think_time_s=spec.think_time_s,
                                        duration_s=spec.duration_s if spec.duration_s is not None else math.inf)
                request_parts.append((workload_ids[key], stream))
            wid = workload_ids[key]
            # The longest request any seed could produce (distribution bounds), or of this stream when the
            # lengths are unbounded or replayed from a trace.
            bound = spec.prompt.upper + spec.output.upper
            if spec.trace is None and math.isfinite(bound):
                longest = int(bound)
            else:
                stream = next(s for w, s in request_parts if w == wid)
                longest = int((stream.prompt_tokens.astype(np.int64) + stream.output_tokens).max())
            slo = None
            if run.slo is not None:
                if run.slo not in slos:
                    self.scope.get("slo", run.slo, run.slo_loc or run.loc)
                slo = slos[run.slo]
            for sys_name, sys_loc in run.systems:
                if sys_name not in systems:
                    self.scope.get("system", sys_name, sys_loc)
                system = systems[sys_name]
                rid = add("runs", name=run.name, system=system.name, model=model_id(run.model, run.model_loc),
                          workload=wid, seed=run.seed, prefill_router=system.prefill_router,
                          decode_router=system.decode_router, keep_requests="requests" in run.record,
                          keep_iterations="iterations" in run.record,
                          keep_token_stats="token_stats" in run.record)
                pool_rows: dict[str, int] = {}
                n_instances = sum(p.chips // p.instance_chips for p in system.pools)
                if n_instances > MAX_INSTANCES:
                    raise CompileError(f"system '{system.name}' has {n_instances} instances; a run simulates at "
                                       f"most {MAX_INSTANCES:,}", system.loc)
                for pool in system.pools:
                    if pool.chip not in chips:
                        self.scope.get("chip", pool.chip, pool.chip_loc)
                    chip = chips[pool.chip]
                    pool_where = f"system '{system.name}' pool '{pool.name}'"
                    check_chip_runs(shape, chip, pool_where, pool.loc)
                    self._check_pool(shape, chip, pool, system, longest)
                    placement = place_memory(shape, chip, pool, longest, pool_where)
                    blocks = placement.kv_blocks
                    cid = chip_id(pool.chip, pool.chip_loc)
                    mem0 = self._memory_rows[cid]
                    pool_rows[pool.name] = add(
                        "pools", run=rid, name=pool.name, role=pool.role, chip=chip_id(pool.chip, pool.chip_loc),
                        chips=pool.chips,
                        tp=pool.tp, instances=pool.chips // pool.instance_chips, max_batch=pool.max_batch,
                        max_batched_tokens=pool.max_batched_tokens, block_size=pool.block_size, kv_blocks=blocks,
                        chunked_prefill=pool.chunked_prefill, policy=pool.policy,
                        step_overhead_s=pool.step_overhead_s, max_queue=pool.max_queue,
                        queue_timeout_s=pool.queue_timeout_s, pp=pool.pp, ep=pool.ep,
                        microbatches=pool.microbatches, node_size=pool.node_size, network_bw=pool.network_bw,
                        network_latency_s=pool.network_latency_s,
                        weights_memory=mem0 + placement.weights_tier, kv_memory=mem0 + placement.kv_tier)
                for ln in system.links:
                    add("links", src=pool_rows[ln.src], dst=pool_rows[ln.dst], bandwidth=ln.bandwidth,
                        latency_s=ln.latency_s)
                if slo is not None:
                    for metric, pct, thr in slo.targets:
                        add("slos", run=rid, metric=metric, percentile=pct, threshold_s=thr)

        plan_cols: dict[str, dict[str, Any]] = {k: v for k, v in cols.items()}
        if request_parts:
            plan_cols["requests"] = {
                "workload": np.concatenate([np.full(len(s.arrival_s), w, dtype=np.uint32) for w, s in request_parts]),
                "arrival_s": np.concatenate([s.arrival_s for _, s in request_parts]),
                "prompt_tokens": np.concatenate([s.prompt_tokens for _, s in request_parts]),
                "output_tokens": np.concatenate([s.output_tokens for _, s in request_parts]),
            }
        return Plan.from_columns(plan_cols)

    def _add_chip_hardware(self, add: Callable[..., int], cid: int, c: ChipSpec) -> None:
        """A chip's memory tiers and calibration profile as rows of the ``memories`` and ``profiles`` tables;
        remembers the chip's first ``memories`` row (pools refer to tiers by row)."""
        rows: dict[int, int] = self.__dict__.setdefault("_memory_rows", {})
        for i, m in enumerate(c.memories):
            r = add("memories", chip=cid, name=m.name, capacity_bytes=m.capacity, bandwidth=m.bandwidth,
                    efficiency=m.efficiency, energy_per_byte=m.energy_per_byte)
            if i == 0:
                rows[cid] = r
        for p in c.profile:
            add("profiles", chip=cid, model=p["model"], operator=p["operator"], tp=p["tp"], stat=p["stat"],
                x=p["x"], seconds=p["seconds"])

    def _check_pool(self, shape: model_mod.ModelShape, chip: ChipSpec, pool: PoolSpec, system: SystemSpec,
                    longest: int) -> None:
        where = f"system '{system.name}' pool '{pool.name}'"
        if shape.heads % pool.tp:
            raise CompileError(f"{where}: tp = {pool.tp} does not divide the {shape.heads} attention heads of "
                               f"model '{shape.name}'", pool.loc)
        if shape.cache_kv_heads % pool.tp and pool.tp % shape.cache_kv_heads:
            raise CompileError(f"{where}: tp = {pool.tp} and the {shape.kv_heads} KV heads of '{shape.name}' "
                               f"do not divide one another", pool.loc)
        self._check_parallelism(shape, chip, pool, where)
        if not pool.chunked_prefill and longest > pool.max_batched_tokens:
            raise CompileError(f"{where}: without chunked prefill, max_batched_tokens ({pool.max_batched_tokens}) "
                               f"must cover the longest request ({longest} tokens)", pool.loc)
        blocks, usable, weights, kv_tok = kv_blocks_for(shape, chip, pool)
        need_kv = longest * kv_tok
        if not tiered(chip, pool) and blocks * pool.block_size < longest:
            raise CompileError(
                f"{where}: model '{shape.name}' does not fit: weights {weights / GB:.2f} GB + KV cache for the "
                f"longest request ({longest} tokens) {need_kv / GB:.2f} GB = {(weights + need_kv) / GB:.2f} GB, "
                f"but an instance has {usable / GB:.2f} GB usable ({pool.instance_chips} x {chip.name} "
                f"{chip.memory_bytes / GB:.2f} GB x memory_utilization {pool.memory_utilization:g}); short by "
                f"{(weights + need_kv - usable) / GB:.2f} GB", pool.loc)


    @staticmethod
    def _check_parallelism(shape: model_mod.ModelShape, chip: ChipSpec, pool: PoolSpec, where: str) -> None:
        """Pipeline, expert parallelism and topology: what the pool asks of the model, the chip and the network."""
        if pool.pp > shape.layers:
            raise CompileError(f"{where}: pp = {pool.pp} exceeds the {shape.layers} layers of '{shape.name}'",
                               pool.loc)
        if pool.ep > 1:
            if not shape.is_moe:
                raise CompileError(f"{where}: ep = {pool.ep} needs a mixture-of-experts model ('{shape.name}' is "
                                   f"dense)", pool.loc)
            if shape.experts % pool.ep:
                raise CompileError(f"{where}: ep = {pool.ep} does not divide the {shape.experts} experts of "
                                   f"'{shape.name}'", pool.loc)
        # Stage j holds chips [j*tp, (j+1)*tp) of an instance that starts a node; see docs/cost-model.md.
        k = pool.node_size
        if k % pool.tp and pool.tp % k:
            raise CompileError(f"{where}: tp = {pool.tp} and node_size = {k} must divide one another (a "
                               f"tensor-parallel group fills part of one node or whole nodes)", pool.loc)
        intra_boundary = pool.pp > 1 and pool.tp % k != 0  # some stage j >= 1 has (j * tp) % k != 0
        if (pool.tp > 1 or intra_boundary) and chip.link_bw <= 1.0:
            what = f"tp = {pool.tp}" if pool.tp > 1 else f"pp = {pool.pp} within a node"
            raise CompileError(f"{where}: {what} needs a chip link (link_bandwidth) on '{chip.name}'", pool.loc)
        if pool.instance_chips > k and pool.network_bw <= 0:
            raise CompileError(
                f"{where}: an instance of {pool.instance_chips} chips (tp = {pool.tp} x pp = {pool.pp}) spans "
                f"{math.ceil(pool.instance_chips / k)} nodes of node_size = {k}; give the network between nodes "
                f"(network {{ bandwidth = ..., latency = ... }} in the system, or network_bandwidth = ... on the "
                f"pool) or a larger node_size", pool.loc)


def _catalog_blocks(loader: Callable[[ast.Use], Any], use: ast.Use) -> list[ast.Block]:
    got = loader(use)
    return got if isinstance(got, list) else [got]


def compile_program(program: ast.Program, *, traffic_rates: dict[str, float] | None = None,
                    select: tuple[str, str] | None = None) -> Plan:
    """Compiles a parsed program into a plan (see :class:`Compiler` for the keyword arguments)."""
    return Compiler(program, traffic_rates=traffic_rates, select=select).compile()


def run_specs(program: ast.Program) -> tuple[list[RunSpec], dict[str, traffic_mod.TrafficSpec]]:
    """The program's runs and traffic blocks, compiled (for drivers such as the max-rate search)."""
    c = Compiler(program)
    runs = [compile_run(c.scope, b) for b in c.scope.blocks.get("run", {}).values()]
    traffics = {n: compile_traffic(c.scope, b) for n, b in c.scope.blocks.get("traffic", {}).items()}
    return runs, traffics
