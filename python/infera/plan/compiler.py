"""The compiler: a parsed program → a validated :class:`~infera.plan.tables.Plan`.

It resolves names (the file's own blocks, then ``use``d catalog entries), checks every field's type and
unit, checks that each system can hold its model (weights plus the KV cache of the longest request), derives
the operator coefficients and samples the request streams. Every problem is a
:class:`~infera.exceptions.CompileError` carrying the location of the offending node.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan import model as model_mod
from infera.plan import traffic as traffic_mod
from infera.plan.tables import Plan

GB = 1e9

# Defaults a user may override; each is documented in docs/dsl.md and docs/cost-model.md.
DEFAULT_COMPUTE_EFFICIENCY = 0.7
DEFAULT_MEMORY_EFFICIENCY = 0.8
DEFAULT_IDLE_POWER_SHARE = 0.3
DEFAULT_VECTOR_SHARE = 1 / 8  # vector-unit rate as a share of the bf16 tensor rate when not given
DEFAULT_MAX_BATCH = 256
DEFAULT_MAX_BATCHED_TOKENS = 8192
DEFAULT_BLOCK_SIZE = 16
DEFAULT_MEMORY_UTILIZATION = 0.9
DEFAULT_STEP_OVERHEAD_S = 0.5e-3

DTYPES = tuple(model_mod.DTYPE_BYTES)
ROUTERS = {"round_robin": "round_robin", "least_tokens": "least_tokens", "least_loaded": "least_tokens",
           "power_of_two": "power_of_two"}
POLICIES = ("decode_first", "prefill_first")
ROLES = ("mixed", "prefill", "decode")
METRICS = ("ttft", "tpot", "e2e", "queue")
RECORDABLE = ("requests", "iterations", "token_stats")


# ----------------------------------------------------------------------------------------------------------
# Field access with located errors


def _describe(v: ast.Value) -> str:
    if isinstance(v, ast.Quantity):
        return f"{v.value:g}" + (f" {v.unit}" if v.unit else "") + f" ({v.dim})"
    if isinstance(v, ast.Name):
        return f"name '{v.id}'"
    return type(v).__name__.lower()


class Fields:
    """The ``key = value`` items of one block, consumed field by field; leftovers are errors."""

    def __init__(self, where: str, items: tuple[Any, ...] | list[Any], loc: ast.Loc) -> None:
        self.where = where
        self.loc = loc
        self.values: dict[str, ast.Assign] = {}
        for item in items:
            if isinstance(item, ast.Assign):
                if item.key in self.values:
                    first = self.values[item.key].loc
                    raise CompileError(f"{where}: duplicate field '{item.key}' (first set at {first})", item.loc)
                self.values[item.key] = item

    def has(self, key: str) -> bool:
        return key in self.values

    def take(self, key: str) -> ast.Assign | None:
        return self.values.pop(key, None)

    def require(self, key: str) -> ast.Assign:
        a = self.take(key)
        if a is None:
            raise CompileError(f"{self.where}: missing required field '{key}'", self.loc)
        return a

    def quantity(self, key: str, dims: tuple[str, ...], default: float | None = None, *, required: bool = False,
                 positive: bool = True) -> float | None:
        a = self.require(key) if required else self.take(key)
        if a is None:
            return default
        return as_quantity(a.value, dims, f"{self.where}: field '{key}'", positive=positive)

    def integer(self, key: str, default: int | None = None, *, required: bool = False, minimum: int = 1,
                dims: tuple[str, ...] = ("number", "tokens")) -> int | None:
        a = self.require(key) if required else self.take(key)
        if a is None:
            return default
        return as_integer(a.value, f"{self.where}: field '{key}'", minimum=minimum, dims=dims)

    def choice(self, key: str, choices: tuple[str, ...] | dict[str, str], default: str | None = None) -> str | None:
        a = self.take(key)
        if a is None:
            return default
        v = a.value
        if not isinstance(v, ast.Name) or v.id not in choices:
            allowed = ", ".join(choices)
            raise CompileError(f"{self.where}: field '{key}' must be one of {allowed}, got {_describe(v)}", a.value.loc)
        return choices[v.id] if isinstance(choices, dict) else v.id

    def boolean(self, key: str, default: bool) -> bool:
        a = self.take(key)
        if a is None:
            return default
        if not isinstance(a.value, ast.Bool):
            raise CompileError(f"{self.where}: field '{key}' must be true or false, got {_describe(a.value)}",
                               a.value.loc)
        return a.value.value

    def name(self, key: str, *, required: bool = True) -> ast.Name | None:
        a = self.require(key) if required else self.take(key)
        if a is None:
            return None
        if not isinstance(a.value, ast.Name):
            raise CompileError(f"{self.where}: field '{key}' must be a name, got {_describe(a.value)}", a.value.loc)
        return a.value

    def done(self) -> None:
        """Rejects any field nobody consumed."""
        for key, a in self.values.items():
            raise CompileError(f"{self.where}: unknown field '{key}'", a.loc)


def as_quantity(v: ast.Value, dims: tuple[str, ...], what: str, *, positive: bool = True) -> float:
    if not isinstance(v, ast.Quantity) or v.dim not in dims:
        want = " or ".join(_DIM_HINT.get(d, d) for d in dims)
        raise CompileError(f"{what} needs {want}, got {_describe(v)}", v.loc)
    if not math.isfinite(v.value):
        raise CompileError(f"{what} must be finite", v.loc)
    if positive and v.value <= 0:
        raise CompileError(f"{what} must be > 0, got {v.value:g}", v.loc)
    if not positive and v.value < 0:
        raise CompileError(f"{what} must be >= 0, got {v.value:g}", v.loc)
    return float(v.value)


def as_integer(v: ast.Value, what: str, *, minimum: int = 1, dims: tuple[str, ...] = ("number", "tokens")) -> int:
    x = as_quantity(v, dims, what, positive=False)
    if x != int(x) or x < minimum:
        raise CompileError(f"{what} must be a whole number >= {minimum}, got {x:g}", v.loc)
    if x > 2**32 - 1:
        raise CompileError(f"{what} is too large ({x:g})", v.loc)
    return int(x)


_DIM_HINT = {
    "time": "a time (s, ms, us)",
    "rate": "a rate (/s)",
    "bytes": "a size (GB, GiB)",
    "bandwidth": "a bandwidth (GB/s, TB/s)",
    "flops": "a compute rate (TFLOPS)",
    "power": "a power (W)",
    "price_rate": "a price rate ($/h)",
    "tokens": "a token count (tokens)",
    "number": "a plain number",
}


# ----------------------------------------------------------------------------------------------------------
# Compiled entities


@dataclass
class ChipSpec:
    name: str
    memory_bytes: float
    memory_bw: float
    memory_efficiency: float
    link_bw: float
    link_latency_s: float
    power_busy_w: float
    power_idle_w: float
    price_per_hour: float
    engines: list[tuple[str, str, float, float]]  # (kind, dtype, flops, efficiency)
    loc: ast.Loc


@dataclass
class PoolSpec:
    name: str
    chip: str
    chips: int
    tp: int
    role: str
    max_batch: int
    max_batched_tokens: int
    block_size: int
    chunked_prefill: bool
    policy: str
    memory_utilization: float
    step_overhead_s: float
    loc: ast.Loc
    chip_loc: ast.Loc
    max_queue: int = 0  # 0: unbounded
    queue_timeout_s: float = math.inf


@dataclass
class LinkSpec:
    src: str
    dst: str
    bandwidth: float
    latency_s: float
    loc: ast.Loc


@dataclass
class SystemSpec:
    name: str
    pools: list[PoolSpec]
    links: list[LinkSpec]
    prefill_router: str
    decode_router: str
    loc: ast.Loc


@dataclass
class SloSpec:
    name: str
    targets: list[tuple[str, float | None, float]]  # (metric, percentile, threshold_s)
    loc: ast.Loc


@dataclass(frozen=True)
class SearchSpec:
    """``search = max_rate(attainment = 90 %, tolerance = 2 %)`` in a run."""

    attainment: float = 0.9
    tolerance: float = 0.02
    max_probes: int = 40
    loc: ast.Loc | None = None


@dataclass
class RunSpec:
    name: str
    model: str
    systems: list[tuple[str, ast.Loc]]
    traffic: str
    slo: str | None
    seed: int
    loc: ast.Loc
    model_loc: ast.Loc
    traffic_loc: ast.Loc
    slo_loc: ast.Loc | None
    search: SearchSpec | None = None
    record: frozenset[str] = frozenset(("requests", "iterations", "token_stats"))


@dataclass
class Scope:
    """Every named block visible to a program, by kind."""

    blocks: dict[str, dict[str, ast.Block]] = field(default_factory=dict)

    def add(self, block: ast.Block) -> None:
        kind = self.blocks.setdefault(block.kind, {})
        if block.name in kind:
            prev = kind[block.name].loc
            raise CompileError(f"duplicate {block.kind} '{block.name}' (first declared at {prev})", block.loc)
        kind[block.name] = block

    def get(self, kind: str, name: str, loc: ast.Loc) -> ast.Block:
        found = self.blocks.get(kind, {}).get(name)
        if found is None:
            known = ", ".join(sorted(self.blocks.get(kind, {}))) or "none declared"
            raise CompileError(f"unknown {kind} '{name}' (known: {known})", loc)
        return found


def _merged_items(scope: Scope, block: ast.Block, seen: tuple[str, ...] = ()) -> list[Any]:
    """A block's items with those of its `extends` base chain; the derived block's fields win."""
    if block.base is None:
        return list(block.items)
    if block.base == block.name or block.base in seen:
        raise CompileError(f"{block.kind} '{block.name}' extends itself", block.loc)
    base = scope.get(block.kind, block.base, block.loc)
    base_items = _merged_items(scope, base, seen + (block.name,))
    own = {i.key for i in block.items if isinstance(i, ast.Assign)}
    own_sub = {(i.kind, i.name) for i in block.items if isinstance(i, ast.SubBlock)}
    kept = [
        i for i in base_items
        if not (isinstance(i, ast.Assign) and i.key in own)
        and not (isinstance(i, ast.SubBlock) and (i.kind, i.name) in own_sub)
    ]
    return kept + list(block.items)


def _only(items: list[Any], allowed: tuple[type, ...], where: str) -> None:
    for item in items:
        if not isinstance(item, allowed):
            kind = type(item).__name__.lower()
            raise CompileError(f"{where}: a {kind} is not allowed here", item.loc)


# ----------------------------------------------------------------------------------------------------------
# Block compilers


def compile_model(scope: Scope, block: ast.Block) -> model_mod.ModelShape:
    items = _merged_items(scope, block)
    where = f"model '{block.name}'"
    _only(items, (ast.Assign,), where)
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
    f.choice("attention", ("gqa", "mha", "mqa"), "gqa")
    f.take("family")
    f.take("source")
    f.done()
    if heads % kv_heads != 0:
        raise CompileError(f"{where}: heads ({heads}) must be a multiple of kv_heads ({kv_heads})",
                           heads_a.loc if heads_a else block.loc)
    return model_mod.ModelShape(block.name, layers, hidden, heads, kv_heads, head_dim, intermediate, vocab,
                                tied, weights, kv)


def compile_chip(scope: Scope, block: ast.Block) -> ChipSpec:
    items = _merged_items(scope, block)
    where = f"chip '{block.name}'"
    _only(items, (ast.Assign, ast.SubBlock), where)
    f = Fields(where, items, block.loc)
    compute_eff = f.quantity("compute_efficiency", ("number",), DEFAULT_COMPUTE_EFFICIENCY)
    engines: list[tuple[str, str, float, float]] = []
    for dt in DTYPES:
        rate = f.quantity(dt, ("flops",))
        if rate is not None:
            engines.append(("tensor", dt, rate, compute_eff))
    vector = f.quantity("vector", ("flops",))
    memory = f.quantity("memory", ("bytes",), positive=False)
    memory_bw = f.quantity("memory_bandwidth", ("bandwidth",))
    mem_eff = f.quantity("memory_efficiency", ("number",), DEFAULT_MEMORY_EFFICIENCY)
    link_bw = f.quantity("link_bandwidth", ("bandwidth",))
    link_lat = f.quantity("link_latency", ("time",), positive=False)
    power = f.quantity("power", ("power",), 0.0, positive=False)
    idle = f.quantity("idle_power", ("power",), None, positive=False)
    price = f.quantity("price", ("price_rate",), 0.0, positive=False)
    f.take("vendor")
    f.take("source")
    f.done()
    for sub in (i for i in items if isinstance(i, ast.SubBlock)):
        sw = f"{where} {sub.kind}{' ' + sub.name if sub.name else ''}"
        _only(list(sub.items), (ast.Assign,), sw)
        sf = Fields(sw, sub.items, sub.loc)
        if sub.kind == "engine":
            kind = sf.choice("kind", ("tensor", "vector"), "vector" if sub.name == "vector" else "tensor")
            eff = sf.quantity("efficiency", ("number",), compute_eff)
            n = 0
            for dt in DTYPES:
                rate = sf.quantity(dt, ("flops",))
                if rate is not None:
                    engines.append((kind, dt, rate, eff))
                    n += 1
            sf.done()
            if n == 0:
                raise CompileError(f"{sw}: an engine needs at least one rate such as bf16 = 100 TFLOPS", sub.loc)
        elif sub.kind == "memory":
            memory = sf.quantity("capacity", ("bytes",), memory, positive=False)
            memory_bw = sf.quantity("bandwidth", ("bandwidth",), memory_bw)
            mem_eff = sf.quantity("efficiency", ("number",), mem_eff)
            sf.done()
        elif sub.kind == "link":
            link_bw = sf.quantity("bandwidth", ("bandwidth",), link_bw)
            link_lat = sf.quantity("latency", ("time",), link_lat, positive=False)
            sf.done()
        else:
            raise CompileError(f"{where}: a '{sub.kind}' block is not allowed in a chip", sub.loc)
    if memory is None:
        raise CompileError(f"{where}: missing required field 'memory'", block.loc)
    if memory_bw is None:
        raise CompileError(f"{where}: missing required field 'memory_bandwidth'", block.loc)
    if not any(kind == "tensor" for kind, *_ in engines):
        raise CompileError(f"{where}: no compute rate given (e.g. bf16 = 989 TFLOPS)", block.loc)
    for what, eff in (("compute_efficiency", compute_eff), ("memory_efficiency", mem_eff)):
        if not 0 < eff <= 1:
            raise CompileError(f"{where}: {what} must be in (0, 1], got {eff:g}", block.loc)
    if not any(kind == "vector" for kind, *_ in engines):
        best = max((r for kind, dt, r, _ in engines if kind == "tensor" and dt in ("bf16", "fp16")),
                   default=max(r for kind, _, r, _ in engines if kind == "tensor"))
        engines.append(("vector", "bf16", vector if vector is not None else best * DEFAULT_VECTOR_SHARE,
                        compute_eff))
    elif vector is not None:
        raise CompileError(f"{where}: give the vector rate either as 'vector =' or as an engine block", block.loc)
    return ChipSpec(
        name=block.name,
        memory_bytes=memory,
        memory_bw=memory_bw,
        memory_efficiency=mem_eff,
        # A chip without a scale-up link can still run tp = 1; a tiny placeholder keeps the plan valid and
        # the compiler rejects tp > 1 on it.
        link_bw=link_bw if link_bw is not None else 1.0,
        link_latency_s=link_lat if link_lat is not None else 0.0,
        power_busy_w=power,
        power_idle_w=idle if idle is not None else power * DEFAULT_IDLE_POWER_SHARE,
        price_per_hour=price * 3600.0,
        engines=engines,
        loc=block.loc,
    )


def _length_dist(v: ast.Value, what: str) -> traffic_mod.LengthDist:
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
                       f"got {_describe(v)}", v.loc)


def compile_traffic(scope: Scope, block: ast.Block) -> traffic_mod.TrafficSpec:
    items = _merged_items(scope, block)
    where = f"traffic '{block.name}'"
    _only(items, (ast.Assign,), where)
    f = Fields(where, items, block.loc)
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
                           f"got {_describe(v)}", v.loc)
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
    items = _merged_items(scope, block)
    _only(items, (ast.Assign, ast.Pool, ast.Link), where)
    f = Fields(where, items, block.loc)
    router = f.choice("router", ROUTERS, "round_robin")
    prefill_router = f.choice("prefill_router", ROUTERS, router)
    decode_router = f.choice("decode_router", ROUTERS, router)
    f.done()
    pools = []
    names: dict[str, ast.Loc] = {}
    for p in (i for i in items if isinstance(i, ast.Pool)):
        if p.name in names:
            raise CompileError(f"{where}: duplicate pool '{p.name}' (first at {names[p.name]})", p.loc)
        names[p.name] = p.loc
        pools.append(_compile_pool(where, p))
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


def _compile_pool(where: str, p: ast.Pool) -> PoolSpec:
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
    pf.done()
    if chips % tp:
        raise CompileError(f"{pw}: {chips} chips do not divide into instances of tp = {tp}", p.loc)
    return PoolSpec(p.name, p.chips.chip.id, chips, tp, role, max_batch,
                    mbt if mbt is not None else DEFAULT_MAX_BATCHED_TOKENS, block_size, chunked, policy,
                    mem_util, overhead, p.loc, p.chips.chip.loc, max_queue, queue_timeout)


def compile_run(scope: Scope, block: ast.Block) -> RunSpec:
    where = f"run '{block.name}'"
    items = list(block.items)
    _only(items, (ast.Assign,), where)
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


def kv_blocks_for(shape: model_mod.ModelShape, chip: ChipSpec, pool: PoolSpec) -> tuple[int, float, float, float]:
    """KV blocks per instance, with the figures behind them: (blocks, usable bytes, weight bytes, KV bytes/token).

    An instance of ``tp`` chips uses ``memory_utilization`` of their memory; weights are split across the
    group; KV heads too, but never finer than one head per chip (replicated beyond that).
    """
    usable = pool.tp * chip.memory_bytes * pool.memory_utilization
    weights = shape.weight_bytes()
    replication = pool.tp / min(pool.tp, shape.kv_heads)
    kv_per_token = shape.kv_bytes_per_token() * replication
    blocks = int(max(0.0, usable - weights) // (kv_per_token * pool.block_size))
    return blocks, usable, weights, kv_per_token


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
                                                   "requests", "runs", "pools", "links", "slos")}

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
                                     power_idle_w=c.power_idle_w, price_per_hour=c.price_per_hour)
                for kind, dt, rate, eff in c.engines:
                    add("engines", chip=chip_ids[name], kind=kind, dtype=dt, flops=rate, efficiency=eff)
            return chip_ids[name]

        def model_id(name: str, loc: ast.Loc) -> int:
            if name not in model_ids:
                if name not in models:
                    self.scope.get("model", name, loc)
                m = models[name]
                mid = add("models", name=m.name, layers=m.layers, hidden=m.hidden, heads=m.heads,
                          kv_heads=m.kv_heads, head_dim=m.head_dim, intermediate=m.intermediate, vocab=m.vocab,
                          weight_dtype=m.weight_dtype, kv_dtype=m.kv_dtype, weight_bytes=m.weight_bytes(),
                          kv_bytes_per_token=m.kv_bytes_per_token())
                model_ids[name] = mid
                for op in model_mod.operators(m):
                    add("operators", model=mid, name=op.name, engine=op.engine, dtype=op.dtype, count=op.count,
                        flops_per_token=op.flops_per_token, flops_per_sampled=op.flops_per_sampled,
                        flops_per_attn_pair=op.flops_per_attn_pair, weight_bytes=op.weight_bytes,
                        bytes_per_token=op.bytes_per_token, bytes_per_sampled=op.bytes_per_sampled,
                        bytes_per_kv_token=op.bytes_per_kv_token, tp_shard=op.tp_shard)
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
                stream = traffic_mod.sample(spec, run.seed)
                if len(stream.arrival_s) == 0:
                    raise CompileError(f"traffic '{spec.name}' produces no requests (duration too short for "
                                       f"its rate?)", self.scope.get("traffic", run.traffic, run.traffic_loc).loc)
                workload_ids[key] = add("workloads", name=spec.name,
                                        kind="closed" if spec.arrivals == "closed" else "open",
                                        users=spec.users, think_time_s=spec.think_time_s,
                                        duration_s=spec.duration_s if spec.duration_s is not None else math.inf)
                request_parts.append((workload_ids[key], stream))
            wid = workload_ids[key]
            longest = int(spec.prompt.upper + spec.output.upper) if math.isfinite(spec.prompt.upper + spec.output.upper) else None
            stream = next(s for w, s in request_parts if w == wid)
            if longest is None:
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
                for pool in system.pools:
                    if pool.chip not in chips:
                        self.scope.get("chip", pool.chip, pool.chip_loc)
                    chip = chips[pool.chip]
                    self._check_pool(shape, chip, pool, system, longest)
                    blocks, *_ = kv_blocks_for(shape, chip, pool)
                    pool_rows[pool.name] = add(
                        "pools", run=rid, name=pool.name, role=pool.role, chip=chip_id(pool.chip, pool.chip_loc),
                        chips=pool.chips,
                        tp=pool.tp, instances=pool.chips // pool.tp, max_batch=pool.max_batch,
                        max_batched_tokens=pool.max_batched_tokens, block_size=pool.block_size, kv_blocks=blocks,
                        chunked_prefill=pool.chunked_prefill, policy=pool.policy,
                        step_overhead_s=pool.step_overhead_s, max_queue=pool.max_queue,
                        queue_timeout_s=pool.queue_timeout_s)
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

    def _check_pool(self, shape: model_mod.ModelShape, chip: ChipSpec, pool: PoolSpec, system: SystemSpec,
                    longest: int) -> None:
        where = f"system '{system.name}' pool '{pool.name}'"
        if shape.heads % pool.tp:
            raise CompileError(f"{where}: tp = {pool.tp} does not divide the {shape.heads} attention heads of "
                               f"model '{shape.name}'", pool.loc)
        if shape.kv_heads % pool.tp and pool.tp % shape.kv_heads:
            raise CompileError(f"{where}: tp = {pool.tp} and the {shape.kv_heads} KV heads of '{shape.name}' "
                               f"do not divide one another", pool.loc)
        if pool.tp > 1 and chip.link_bw <= 1.0:
            raise CompileError(f"{where}: tp = {pool.tp} needs a chip link (link_bandwidth) on '{chip.name}'",
                               pool.loc)
        if not pool.chunked_prefill and longest > pool.max_batched_tokens:
            raise CompileError(f"{where}: without chunked prefill, max_batched_tokens ({pool.max_batched_tokens}) "
                               f"must cover the longest request ({longest} tokens)", pool.loc)
        blocks, usable, weights, kv_tok = kv_blocks_for(shape, chip, pool)
        need_kv = longest * kv_tok
        if blocks * pool.block_size < longest:
            raise CompileError(
                f"{where}: model '{shape.name}' does not fit: weights {weights / GB:.2f} GB + KV cache for the "
                f"longest request ({longest} tokens) {need_kv / GB:.2f} GB = {(weights + need_kv) / GB:.2f} GB, "
                f"but an instance has {usable / GB:.2f} GB usable ({pool.tp} x {chip.name} "
                f"{chip.memory_bytes / GB:.2f} GB x memory_utilization {pool.memory_utilization:g}); short by "
                f"{(weights + need_kv - usable) / GB:.2f} GB", pool.loc)


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
