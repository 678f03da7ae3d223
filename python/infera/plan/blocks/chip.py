"""``chip`` blocks → :class:`~infera.plan.specs.ChipSpec`: tensor, vector and optical engines and their
routing, memory tiers, the scale-up link, per-operation energy, power, price, templates and calibration
profiles (docs/cost-model.md "Multi-engine chips", "Memory tiers", "Energy"; docs/calibration.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infera.calibrate import ProfileError, load_profile
from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan.blocks.kernels import compile_kernels
from infera.plan.fields import Fields, describe
from infera.plan.scope import Scope, merged_items, only_items
from infera.plan.specs import (
    DEFAULT_COMPUTE_EFFICIENCY,
    DEFAULT_IDLE_POWER_SHARE,
    DEFAULT_MEMORY_EFFICIENCY,
    DEFAULT_VECTOR_SHARE,
    DTYPES,
    MAIN_MEMORY,
    ChipSpec,
    EngineInfo,
    MemorySpec,
)

#: A template chip's value for a figure the user must supply: ``int8 = required``.
PLACEHOLDER = "required"
ENGINE_KINDS = ("tensor", "vector", "optical")


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
    if not isinstance(a.value, ast.String):
        raise CompileError(f"{where}: profile must be a file name in quotes, e.g. profile = \"h100.csv\"",
                           a.value.loc)
    path = Path(a.value.value)
    src = a.value.loc.file
    if not path.is_absolute() and not src.startswith("<"):
        path = Path(src).parent / path
    try:
        return load_profile(path)
    except ProfileError as exc:
        raise CompileError(f"{where}: profile: {exc}", a.value.loc) from None


def compile_chip(scope: Scope, block: ast.ChipBlock) -> ChipSpec:
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
    kernels, gemm_eff = compile_kernels(f)
    engines: list[tuple[str, str, float, float]] = []
    info: list[EngineInfo] = []
    for dt in DTYPES:
        rate = f.quantity(dt, ("flops",))
        if rate is not None:
            engines.append(("tensor", dt, rate, gemm_eff.get(dt, compute_eff)))
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
        kernels=kernels,
    )
