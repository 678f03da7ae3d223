"""Chip hardware: engines and their routing, memory tiers and placement, per-operation energy,
templates and calibration profiles (docs/cost-model.md, docs/calibration.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infera import _core
from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan import model as model_mod
from infera.plan.fields import Fields, describe
from infera.plan.specs import (
    ChipSpec,
    DEFAULT_COMPUTE_EFFICIENCY,
    DEFAULT_IDLE_POWER_SHARE,
    DEFAULT_MEMORY_EFFICIENCY,
    DEFAULT_VECTOR_SHARE,
    DTYPES,
    EngineInfo,
    GB,
    MemorySpec,
    Placement,
    PoolSpec,
    Scope,
    merged_items,
    only_items,
)


# ----------------------------------------------------------------------------------------------------------
# Chip hardware: engines and their routing, memory tiers and placement, per-operation energy, templates and
# calibration profiles (docs/cost-model.md "Multi-engine chips", "Memory tiers", "Energy"; docs/calibration.md)

#: A template chip's value for a figure the user must supply: ``int8 = required``.
PLACEHOLDER = "required"
ENGINE_KINDS = ("tensor", "vector", "optical")
#: Name of the memory tier given by the top-level ``memory`` / ``memory_bandwidth`` fields.
MAIN_MEMORY = "main"
#: Wider precisions an operator may fall back to, in order (the core's list).
FALLBACKS: dict[str, tuple[str, ...]] = _core.PRECISION_FALLBACKS


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
                           f"[optical, tensor]; got {describe(v)}", v.loc)
    return tuple(n.id for n in names)  # type: ignore[union-attr]


def _load_profile(a: ast.Assign, where: str) -> list[dict[str, Any]]:
    """``profile = "measured.csv"``, resolved relative to the file the field is written in."""

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
    items = merged_items(scope, block)
    where = f"chip '{block.name}'"
    only_items(items, (ast.Assign, ast.SubBlock), where)
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
    kernel = f.quantity("kernel_overhead", ("time",), 0.0, positive=False)
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
        only_items(list(sub.items), (ast.Assign,), sw)
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
        kernel_overhead_s=kernel,
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


def tiered(chip: ChipSpec, pool: PoolSpec) -> bool:
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
    if not tiered(chip, pool):
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
