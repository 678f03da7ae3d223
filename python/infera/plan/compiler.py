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
from pathlib import Path
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
DEFAULT_NODE_SIZE = 8  # chips per node (an 8-GPU server); groups beyond it cross the network
MAX_TOKENS = traffic_mod.MAX_TOKENS  # prompt or output tokens of one request (the core's limit)
MAX_REQUESTS = 2**32 - 1  # requests one traffic block may sample (the largest `requests = N`)

DTYPES = tuple(model_mod.DTYPE_BYTES)
ROUTERS = {"round_robin": "round_robin", "least_tokens": "least_tokens", "least_loaded": "least_tokens",
           "power_of_two": "power_of_two"}
POLICIES = ("decode_first", "prefill_first")
ROLES = ("mixed", "prefill", "decode")
METRICS = ("ttft", "tpot", "e2e", "queue")
RECORDABLE = ("requests", "iterations", "token_stats")
#: Most instances in one run (the core's limit too: each instance costs the engine about a kilobyte).
MAX_INSTANCES = 1_000_000


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
    # Multi-engine chips, memory tiers, energy, calibration (docs/cost-model.md, docs/calibration.md).
    engine_info: list["EngineInfo"] = field(default_factory=list)  # parallel to `engines`
    memories: list["MemorySpec"] = field(default_factory=list)
    matmul_route: tuple[str, ...] = ()  # engine names or kinds, in preference order; () = tensor
    attention_route: tuple[str, ...] = ()
    profile: list[dict[str, Any]] = field(default_factory=list)
    #: A template's fields still set to ``required`` (the chip cannot be used until a block extending it
    #: sets them).
    missing: list[str] = field(default_factory=list)


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
    # Parallelism and topology (docs/cost-model.md, "Parallelism"): an instance is tp x pp chips.
    pp: int = 1
    ep: int = 1
    microbatches: int = 1  # pp when not given
    node_size: int = DEFAULT_NODE_SIZE
    network_bw: float = 0.0  # per chip, B/s; 0: no network given
    network_latency_s: float = 0.0
    # Memory placement (docs/cost-model.md, "Memory tiers"): the names (ast.Name) of the chip memories that
    # hold the weights and the KV cache; None: placed automatically.
    weights_in: Any = None
    kv_in: Any = None

    @property
    def instance_chips(self) -> int:
        return self.tp * self.pp


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


# ----------------------------------------------------------------------------------------------------------
# Chip hardware: engines and their routing, memory tiers and placement, per-operation energy, templates and
# calibration profiles (docs/cost-model.md "Multi-engine chips", "Memory tiers", "Energy"; docs/calibration.md)

#: A template chip's value for a figure the user must supply: ``int8 = required``.
PLACEHOLDER = "required"
ENGINE_KINDS = ("tensor", "vector", "optical")
#: Name of the memory tier given by the top-level ``memory`` / ``memory_bandwidth`` fields.
MAIN_MEMORY = "main"
#: Wider precisions an operator may fall back to, in order (the same list as the core's).
FALLBACKS: dict[str, tuple[str, ...]] = {
    "int4": ("int4", "int8", "fp8", "bf16", "fp16", "fp32"),
    "int8": ("int8", "fp8", "bf16", "fp16", "fp32"),
    "fp8": ("fp8", "bf16", "fp16", "fp32"),
    "bf16": ("bf16", "fp16", "fp32"),
    "fp16": ("fp16", "bf16", "fp32"),
    "fp32": ("fp32",),
}


@dataclass
class EngineInfo:
    """What the plan's ``engines`` row carries besides kind, precision and rate."""

    name: str
    energy_per_flop: float = 0.0  # J/FLOP
    conversion_bw: float = 0.0  # B/s through the operand converters; 0: none
    conversion_energy: float = 0.0  # J per converted operand byte


@dataclass
class MemorySpec:
    """One memory tier of a chip."""

    name: str
    capacity: float  # bytes per chip
    bandwidth: float  # B/s per chip
    efficiency: float
    energy_per_byte: float  # J/B
    loc: ast.Loc


@dataclass
class Placement:
    """Where a pool keeps weights and KV cache (indices into the chip's memories) and its KV blocks."""

    kv_blocks: int
    weights_tier: int = 0
    kv_tier: int = 0


def _placeholders(items: list[Any]) -> list[str]:
    """The fields of a chip's merged items still set to ``required``, as ``field`` or ``engine NAME: field``."""
    out = []
    for item in items:
        if isinstance(item, ast.Assign) and isinstance(item.value, ast.Name) and item.value.id == PLACEHOLDER:
            out.append(item.key)
        elif isinstance(item, ast.SubBlock):
            label = item.kind + (f" {item.name}" if item.name else "")
            out += [f"{label}: {k}" for k in _placeholders(list(item.items))]
    return out


def _route(v: ast.Value, what: str) -> tuple[str, ...]:
    """``matmul = optical`` or ``matmul = [optical, tensor]`` (engine names or kinds, in preference order)."""
    names = list(v.items) if isinstance(v, ast.ListValue) else [v]
    if not names or not all(isinstance(n, ast.Name) for n in names):
        raise CompileError(f"{what} must name an engine (or kind), or list them in preference order, e.g. "
                           f"[optical, tensor]; got {_describe(v)}", v.loc)
    return tuple(n.id for n in names)  # type: ignore[union-attr]


def _load_profile(a: ast.Assign, where: str) -> list[dict[str, Any]]:
    """``profile = "measured.csv"``, resolved relative to the file the field is written in."""
    from pathlib import Path

    from infera.calibrate import load_profile

    if not isinstance(a.value, ast.String):
        raise CompileError(f"{where}: profile must be a file name in quotes, e.g. profile = \"h100.csv\"",
                           a.value.loc)
    path = Path(a.value.value)
    src = a.value.loc.file
    if not path.is_absolute() and not src.startswith("<"):
        path = Path(src).parent / path
    try:
        return load_profile(path)
    except (OSError, ValueError) as exc:
        raise CompileError(f"{where}: profile: {exc}", a.value.loc) from None


def compile_chip(scope: Scope, block: ast.Block) -> ChipSpec:
    items = _merged_items(scope, block)
    where = f"chip '{block.name}'"
    _only(items, (ast.Assign, ast.SubBlock), where)
    missing = _placeholders(items)
    if missing:
        # A template: it compiles (so `use` and `extends` work) but no pool may use it as it stands.
        return ChipSpec(name=block.name, memory_bytes=0.0, memory_bw=1.0, memory_efficiency=1.0, link_bw=1.0,
                        link_latency_s=0.0, power_busy_w=0.0, power_idle_w=0.0, price_per_hour=0.0, engines=[],
                        loc=block.loc, missing=missing)
    f = Fields(where, items, block.loc)
    compute_eff = f.quantity("compute_efficiency", ("number",), DEFAULT_COMPUTE_EFFICIENCY)
    compute_energy = f.quantity("compute_energy", ("energy_per_flop",), 0.0, positive=False)
    engines: list[tuple[str, str, float, float]] = []
    info: list[EngineInfo] = []
    for dt in DTYPES:
        rate = f.quantity(dt, ("flops",))
        if rate is not None:
            engines.append(("tensor", dt, rate, compute_eff))
            info.append(EngineInfo("tensor", compute_energy))
    vector = f.quantity("vector", ("flops",))
    memory = f.quantity("memory", ("bytes",), positive=False)
    memory_bw = f.quantity("memory_bandwidth", ("bandwidth",))
    mem_eff = f.quantity("memory_efficiency", ("number",), DEFAULT_MEMORY_EFFICIENCY)
    memory_energy = f.quantity("memory_energy", ("energy_per_byte",), 0.0, positive=False)
    link_bw = f.quantity("link_bandwidth", ("bandwidth",))
    link_lat = f.quantity("link_latency", ("time",), positive=False)
    power = f.quantity("power", ("power",), 0.0, positive=False)
    idle = f.quantity("idle_power", ("power",), None, positive=False)
    price = f.quantity("price", ("price_rate",), 0.0, positive=False)
    matmul_a = f.take("matmul")
    attention_a = f.take("attention")
    profile_a = f.take("profile")
    f.take("vendor")
    f.take("source")
    f.done()
    for what, eff in (("compute_efficiency", compute_eff), ("memory_efficiency", mem_eff)):
        if not 0 < eff <= 1:
            raise CompileError(f"{where}: {what} must be in (0, 1], got {eff:g}", block.loc)
    tiers: list[MemorySpec] = []
    for sub in (i for i in items if isinstance(i, ast.SubBlock)):
        sw = f"{where} {sub.kind}{' ' + sub.name if sub.name else ''}"
        _only(list(sub.items), (ast.Assign,), sw)
        sf = Fields(sw, sub.items, sub.loc)
        if sub.kind == "engine":
            default_kind = sub.name if sub.name in ("vector", "optical") else "tensor"
            kind = sf.choice("kind", ENGINE_KINDS, default_kind)
            eff = sf.quantity("efficiency", ("number",), compute_eff)
            energy = sf.quantity("energy", ("energy_per_flop",), compute_energy, positive=False)
            conv_rate = sf.quantity("conversion_rate", ("bandwidth",))
            conv_energy = sf.quantity("conversion", ("energy_per_byte",), None, positive=False)
            if not 0 < eff <= 1:
                raise CompileError(f"{sw}: efficiency must be in (0, 1], got {eff:g}", sub.loc)
            if kind == "optical" and conv_rate is None:
                raise CompileError(f"{sw}: an optical engine needs conversion_rate (operand bytes its DACs/ADCs "
                                   f"convert per second, e.g. conversion_rate = 400 GB/s)", sub.loc)
            if kind == "optical" and conv_energy is None:
                raise CompileError(f"{sw}: an optical engine needs conversion (energy per converted operand "
                                   f"byte, e.g. conversion = 2 pJ/B; 0 pJ/B if negligible)", sub.loc)
            n = 0
            for dt in DTYPES:
                rate = sf.quantity(dt, ("flops",))
                if rate is not None:
                    engines.append((kind, dt, rate, eff))
                    info.append(EngineInfo(sub.name or kind, energy, conv_rate or 0.0, conv_energy or 0.0))
                    n += 1
            sf.done()
            if n == 0:
                raise CompileError(f"{sw}: an engine needs at least one rate such as bf16 = 100 TFLOPS", sub.loc)
        elif sub.kind == "memory":
            name = sub.name or MAIN_MEMORY
            if any(t.name == name for t in tiers):
                raise CompileError(f"{where}: two memories named '{name}'", sub.loc)
            cap = sf.quantity("capacity", ("bytes",), required=True, positive=False)
            bw = sf.quantity("bandwidth", ("bandwidth",), required=True)
            eff = sf.quantity("efficiency", ("number",), mem_eff)
            energy = sf.quantity("energy", ("energy_per_byte",), memory_energy, positive=False)
            sf.done()
            if not 0 < eff <= 1:
                raise CompileError(f"{sw}: efficiency must be in (0, 1], got {eff:g}", sub.loc)
            tiers.append(MemorySpec(name, cap, bw, eff, energy, sub.loc))
        elif sub.kind == "link":
            link_bw = sf.quantity("bandwidth", ("bandwidth",), link_bw)
            link_lat = sf.quantity("latency", ("time",), link_lat, positive=False)
            sf.done()
        else:
            raise CompileError(f"{where}: a '{sub.kind}' block is not allowed in a chip", sub.loc)
    if memory is not None or memory_bw is not None or not tiers:
        if memory is None:
            raise CompileError(f"{where}: missing required field 'memory'", block.loc)
        if memory_bw is None:
            raise CompileError(f"{where}: missing required field 'memory_bandwidth'", block.loc)
        if any(t.name == MAIN_MEMORY for t in tiers):
            raise CompileError(f"{where}: the top-level memory fields already define memory '{MAIN_MEMORY}'",
                               block.loc)
        tiers.insert(0, MemorySpec(MAIN_MEMORY, memory, memory_bw, mem_eff, memory_energy, block.loc))
    compute = [r for kind, _, r, _ in engines if kind in ("tensor", "optical")]
    if not compute:
        raise CompileError(f"{where}: no compute rate given (e.g. bf16 = 989 TFLOPS)", block.loc)
    if not any(kind == "vector" for kind, *_ in engines):
        best = max((r for kind, dt, r, _ in engines if kind == "tensor" and dt in ("bf16", "fp16")),
                   default=max(compute))
        engines.append(("vector", "bf16", vector if vector is not None else best * DEFAULT_VECTOR_SHARE,
                        compute_eff))
        info.append(EngineInfo("vector", compute_energy))
    elif vector is not None:
        raise CompileError(f"{where}: give the vector rate either as 'vector =' or as an engine block", block.loc)
    known = {i.name for i in info} | {kind for kind, *_ in engines}
    routes = []
    for key, a in (("matmul", matmul_a), ("attention", attention_a)):
        r = _route(a.value, f"{where}: {key}") if a is not None else ()
        for name in r:
            if name not in known:
                raise CompileError(f"{where}: {key} = {name}: the chip has no such engine (engines: "
                                   f"{', '.join(sorted(known))})", a.value.loc)  # type: ignore[union-attr]
        routes.append(r)
    # The chips row's memory is the largest tier (informational when a chip has several).
    main = max(tiers, key=lambda t: t.capacity)
    return ChipSpec(
        name=block.name,
        memory_bytes=main.capacity,
        memory_bw=main.bandwidth,
        memory_efficiency=main.efficiency,
        # A chip without a scale-up link can still run tp = 1; a tiny placeholder keeps the plan valid and
        # the compiler rejects tp > 1 on it.
        link_bw=link_bw if link_bw is not None else 1.0,
        link_latency_s=link_lat if link_lat is not None else 0.0,
        power_busy_w=power,
        power_idle_w=idle if idle is not None else power * DEFAULT_IDLE_POWER_SHARE,
        price_per_hour=price * 3600.0,
        engines=engines,
        loc=block.loc,
        engine_info=info,
        memories=tiers,
        matmul_route=routes[0],
        attention_route=routes[1],
        profile=_load_profile(profile_a, where) if profile_a is not None else [],
    )


def _is_attention(op: model_mod.Operator) -> bool:
    return op.flops_per_attn_pair > 0 or op.bytes_per_kv_token > 0


def engine_for(chip: ChipSpec, op: model_mod.Operator) -> int | None:
    """Index (into ``chip.engines``) of the engine that runs ``op``, as the core chooses it: vector work on a
    vector engine; attention and weight matmuls on the first engine of the chip's ``attention`` / ``matmul``
    route (default: the tensor engine) that offers the operator's precision or, failing that, the next wider
    one. ``None`` when no engine can run it."""
    info = chip.engine_info or [EngineInfo(k) for k, *_ in chip.engines]
    if op.engine != "tensor":
        groups = [[j for j, e in enumerate(chip.engines) if e[0] == op.engine]]
    else:
        route = (chip.attention_route if _is_attention(op) else chip.matmul_route) or ("tensor",)
        groups = [[j for j, e in enumerate(chip.engines) if info[j].name == r or e[0] == r] for r in route]
    for group in groups:
        for dt in FALLBACKS.get(op.dtype, (op.dtype,)):
            for j in group:
                if chip.engines[j][1] == dt:
                    return j
    return None


def check_chip_runs(shape: model_mod.ModelShape, chip: ChipSpec, where: str, loc: ast.Loc) -> None:
    """Rejects a template chip, and a chip none of whose engines can run one of the model's operators."""
    if chip.missing:
        raise CompileError(
            f"{where}: chip '{chip.name}' is a template; its figures must be supplied first. Write "
            f"'chip mine extends {chip.name} {{ ... }}' setting: {', '.join(chip.missing)} (and use 'mine')", loc)
    for op in model_mod.operators(shape):
        if op.engine not in ("tensor", "vector") or engine_for(chip, op) is not None:
            continue
        if op.engine == "vector":
            raise CompileError(f"{where}: chip '{chip.name}' has no vector engine for operator '{op.name}' "
                               f"({op.dtype})", loc)
        key = "attention" if _is_attention(op) else "matmul"
        route = (chip.attention_route if key == "attention" else chip.matmul_route) or ("tensor",)
        offered = sorted({e[1] for e, i in zip(chip.engines, chip.engine_info)
                          if e[0] in route or i.name in route})
        hint = ("attention computes in bf16: route it to an engine with a bf16 (or wider) rate, e.g. "
                "attention = tensor" if key == "attention" else
                "a matmul never runs at a narrower precision than the model's weights: quantise the model "
                "(weights = int8 or fp8), add that rate to the engine, or let matmuls fall back with "
                f"matmul = [{', '.join(route)}, tensor]")
        raise CompileError(
            f"{where}: no engine of chip '{chip.name}' can run operator '{op.name}' of model '{shape.name}' at "
            f"{op.dtype}: {key} runs on {' or '.join(route)}, which offers "
            f"{', '.join(offered) or 'no rate'}; {hint}", loc)


def _size(b: float, digits: int = 0) -> str:
    """Bytes for messages: GB with two decimals from 1 GB up, MB below (``digits`` significant digits instead
    when given)."""
    unit, div = ("GB", GB) if abs(b) >= GB else ("MB", 1e6)
    return f"{b / div:.{digits}g} {unit}" if digits else f"{b / div:.2f} {unit}"


def _tiered(chip: ChipSpec, pool: PoolSpec) -> bool:
    """Whether a pool's memory needs placing: several tiers, a named one, or explicit pool options."""
    return (len(chip.memories) > 1 or (bool(chip.memories) and chip.memories[0].name != MAIN_MEMORY)
            or getattr(pool, "weights_in", None) is not None or getattr(pool, "kv_in", None) is not None)


def place_memory(shape: model_mod.ModelShape, chip: ChipSpec, pool: PoolSpec, longest: int,
                 where: str) -> Placement:
    """Places the weights and the KV cache of one instance in the chip's memory tiers.

    Weights go to ``weights_in`` if given, else to the fastest tier (highest bandwidth) with room for them.
    The KV cache goes to ``kv_in`` if given; else, among the tiers whose room (after the weights, if they
    share it) holds the longest request, to the fastest that holds a full batch (``max_batch`` longest
    requests), or failing that to the one with the most room. Each tier offers ``instance chips x capacity x
    memory_utilization``. What does not fit is rejected with what and by how much.
    """
    blocks, _, weights, kv_tok = kv_blocks_for(shape, chip, pool)
    if not _tiered(chip, pool):
        return Placement(blocks)
    n, u, tiers = pool.instance_chips, pool.memory_utilization, chip.memories
    usable = [n * t.capacity * u for t in tiers]
    order = sorted(range(len(tiers)), key=lambda i: -tiers[i].bandwidth)

    def named(opt: Any) -> int:
        for i, t in enumerate(tiers):
            if t.name == opt.id:
                return i
        raise CompileError(f"{where}: chip '{chip.name}' has no memory '{opt.id}' (memories: "
                           f"{', '.join(t.name for t in tiers)})", opt.loc)

    def describe(i: int) -> str:
        return (f"{tiers[i].name} with {_size(usable[i])} usable ({n} x {chip.name} "
                f"{_size(tiers[i].capacity, 3)} x memory_utilization {u:g})")

    gb = _size(weights)
    w_opt = getattr(pool, "weights_in", None)
    if w_opt is not None:
        wt = named(w_opt)
        if weights > usable[wt]:
            raise CompileError(f"{where}: model '{shape.name}' does not fit: its weights ({gb}) do not fit in "
                               f"{describe(wt)}; short by {_size(weights - usable[wt])}", pool.loc)
    else:
        fits = [i for i in order if weights <= usable[i]]
        if not fits:
            best = max(range(len(tiers)), key=lambda i: usable[i])
            raise CompileError(f"{where}: model '{shape.name}' does not fit: its weights ({gb}) fit in no memory "
                               f"of an instance; the largest is {describe(best)}; short by "
                               f"{_size(weights - usable[best])}", pool.loc)
        wt = fits[0]

    def left(i: int) -> float:
        return max(0.0, usable[i] - (weights if i == wt else 0.0))

    def kv_blocks(i: int) -> int:
        return whole_blocks(left(i), kv_tok * pool.block_size)

    need = longest * kv_tok
    what = f"the KV cache of the longest request ({longest} tokens, {_size(need)})"
    k_opt = getattr(pool, "kv_in", None)
    if k_opt is not None:
        kt = named(k_opt)
        if kv_blocks(kt) * pool.block_size < longest:
            after = f" after the weights ({gb})" if kt == wt else ""
            raise CompileError(f"{where}: model '{shape.name}' does not fit: {what} needs more than the "
                               f"{_size(left(kt))} left in {tiers[kt].name}{after}; short by "
                               f"{_size(need - left(kt))}", pool.loc)
    else:
        fits = [i for i in order if kv_blocks(i) * pool.block_size >= longest]
        full = [i for i in fits if kv_blocks(i) * pool.block_size >= pool.max_batch * longest]
        if not fits:
            best = max(range(len(tiers)), key=left)
            raise CompileError(f"{where}: model '{shape.name}' does not fit: with its weights ({gb}) in "
                               f"{tiers[wt].name}, {what} fits in no memory; the most room left is "
                               f"{_size(left(best))} in {tiers[best].name}; short by "
                               f"{_size(need - left(best))}", pool.loc)
        kt = full[0] if full else max(fits, key=kv_blocks)
    return Placement(kv_blocks(kt), wt, kt)


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
                       f"got {_describe(v)}", v.loc)


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
    items = _merged_items(scope, block)
    where = f"traffic '{block.name}'"
    _only(items, (ast.Assign,), where)
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
    _only(items, (ast.Assign, ast.Pool, ast.Link, ast.SubBlock), where)
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
        _only(list(sub.items), (ast.Assign,), nw)
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

    An instance of ``tp x pp`` chips uses ``memory_utilization`` of their memory. Each pipeline stage holds
    1/pp of the layers; within a stage, weights are split across the ``tp`` chips (routed experts too, whether
    sliced or spread whole by ``ep``) except the few every chip holds whole (norms, router, MLA's latent
    projections), counted ``tp`` times. KV heads are split too, but never finer than one head per chip
    (replicated beyond that; MLA's single latent head is replicated on every chip of a stage).
    """
    usable = pool.instance_chips * chip.memory_bytes * pool.memory_utilization
    weights = shape.weight_bytes() + (pool.tp - 1) * model_mod.replicated_weight_bytes(shape)
    replication = pool.tp / min(pool.tp, shape.cache_kv_heads)
    kv_per_token = shape.kv_bytes_per_token() * replication
    blocks = whole_blocks(max(0.0, usable - weights), kv_per_token * pool.block_size)
    return blocks, usable, weights, kv_per_token


MAX_KV_BLOCKS = 2**32 - 1  # the plan's kv_blocks column is uint32


def whole_blocks(room: float, block_bytes: float) -> int:
    """Whole KV blocks of ``block_bytes`` in ``room`` bytes, at most :data:`MAX_KV_BLOCKS` (also when a huge
    memory made ``room`` overflow to infinity)."""
    q = room // block_bytes
    return int(q) if q < MAX_KV_BLOCKS else MAX_KV_BLOCKS


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
                                     attention_engine=",".join(c.attention_route))
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
        if not _tiered(chip, pool) and blocks * pool.block_size < longest:
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
