"""``design`` blocks → :class:`DesignSpec`: the space a design search enumerates (docs/design.md).

A design search is given a model, traffic, an SLO, the chip kinds it may use and a budget (a chip count, or
dollars per hour at the chips' list prices), and tries mixed designs (one pool) and split designs (a
prefill pool linked to a decode pool) of every size and tensor (and expert) parallelism the budget allows.
This module only checks what the block says; :mod:`infera.designs` enumerates, prunes and simulates.
"""

from __future__ import annotations

from dataclasses import dataclass

from infera.dsl import ast
from infera.exceptions import CompileError
from infera.plan.blocks.traffic import compile_traffic
from infera.plan.fields import Fields, as_integer, as_quantity, describe
from infera.plan.scope import Scope, merged_items, only_items

MODES = ("mixed", "split")
#: Tensor-parallel degrees tried when the block gives none: one chip up to an 8-GPU node.
DEFAULT_TP = (1, 2, 4, 8)


@dataclass(frozen=True)
class DesignSpec:
    name: str
    model: str
    traffic: str
    slo: str
    chips: tuple[str, ...]
    #: Exactly one of the two is set: at most this many chips, or at most this many dollars per hour.
    budget_chips: int | None
    budget_usd_per_hour: float | None
    #: The traffic's Poisson rate to design for (None: the traffic's own).
    rate: float | None
    modes: tuple[str, ...]
    tp: tuple[int, ...]
    ep: tuple[int, ...]
    #: Bandwidth of the prefill -> decode link of split designs, B/s (None when no split design is tried).
    link_bandwidth: float | None
    link_latency_s: float
    seed: int
    #: Share of requests that must meet every SLO target for a design to meet the SLO.
    attainment: float
    loc: ast.Loc
    budget_loc: ast.Loc
    chip_locs: tuple[ast.Loc, ...] = ()


def compile_design(scope: Scope, block: ast.DesignBlock) -> DesignSpec:
    where = f"design '{block.name}'"
    items = merged_items(scope, block)  # a design may extend another and change a few fields
    only_items(items, (ast.Assign,), where)
    f = Fields(where, items, block.loc)
    model = f.name("model")
    traffic = f.name("traffic")
    slo = f.name("slo")
    assert model is not None and traffic is not None and slo is not None
    scope.get(ast.ModelBlock, model.id, model.loc)
    tblock = scope.get(ast.TrafficBlock, traffic.id, traffic.loc)
    scope.get(ast.SloBlock, slo.id, slo.loc)
    chips = _names(f.require("chips"), where, "chips")
    for c in chips:
        scope.get(ast.ChipBlock, c.id, c.loc)
    budget = f.require("budget")
    count = usd = None
    b = budget.value
    if isinstance(b, ast.Quantity) and b.dim == "number":
        count = as_integer(b, f"{where}: budget", dims=("number",))
    elif isinstance(b, ast.Quantity) and b.dim == "price_rate":
        usd = b.value * 3600.0
        if usd <= 0:
            raise CompileError(f"{where}: budget must be > 0", b.loc)
    else:
        raise CompileError(f"{where}: budget is a chip count (16) or a price (100 $/h), got {describe(b)}", b.loc)
    rate_item = f.take("rate")
    rate = None
    if rate_item is not None:
        rate = as_quantity(rate_item.value, ("rate",), f"{where}: field 'rate'")
        if compile_traffic(scope, tblock).arrivals != "poisson":
            raise CompileError(f"{where}: rate sets a Poisson rate; traffic '{traffic.id}' is not Poisson",
                               rate_item.value.loc)
    mode_item = f.take("modes")
    modes: tuple[str, ...] = MODES
    if mode_item is not None:
        given = _names(mode_item, where, "modes")
        bad = [m for m in given if m.id not in MODES]
        if bad:
            raise CompileError(f"{where}: modes lists {', '.join(MODES)}, got '{bad[0].id}'", bad[0].loc)
        modes = tuple(dict.fromkeys(m.id for m in given))
    tp = _integers(f.take("tp"), where, "tp") or DEFAULT_TP
    ep = _integers(f.take("ep"), where, "ep") or (1,)
    link = f.quantity("link_bandwidth", ("bandwidth",))
    latency = f.quantity("link_latency", ("time",), 0.0, positive=False)
    if "split" in modes and link is None:
        raise CompileError(f"{where}: split designs need the prefill -> decode link's bandwidth (link_bandwidth "
                           f"= 50 GB/s, say), or modes = [mixed]", block.loc)
    seed = f.integer("seed", 0, minimum=0, dims=("number",))
    attainment = f.quantity("attainment", ("number",), 0.9)
    assert attainment is not None and seed is not None and latency is not None
    if not 0 < attainment <= 1:
        raise CompileError(f"{where}: attainment must be in (0, 100 %]", block.loc)
    f.done()
    return DesignSpec(block.name, model.id, traffic.id, slo.id, tuple(c.id for c in chips), count, usd, rate,
                      modes, tp, ep, link, latency, seed, attainment, block.loc, b.loc, tuple(c.loc for c in chips))


def _names(item: ast.Assign, where: str, key: str) -> list[ast.Name]:
    v = item.value
    values = list(v.items) if isinstance(v, ast.ListValue) else [v]
    if not values or not all(isinstance(n, ast.Name) for n in values):
        raise CompileError(f"{where}: {key} must be a name or a non-empty list of names", v.loc)
    return values  # type: ignore[return-value]


def _integers(item: ast.Assign | None, where: str, key: str) -> tuple[int, ...]:
    if item is None:
        return ()
    v = item.value
    values = list(v.items) if isinstance(v, ast.ListValue) else [v]
    if not values:
        raise CompileError(f"{where}: {key} must list at least one degree", v.loc)
    return tuple(sorted({as_integer(x, f"{where}: {key}", dims=("number",)) for x in values}))
