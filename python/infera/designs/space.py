"""The designs a ``design`` block allows, in a fixed order.

A pool is ``k`` instances of ``tp`` chips (``k >= 1``), with an expert-parallel degree ``ep`` that divides
``tp`` (MoE models only; a dense model's pools take ``ep = 1``). A mixed design is one such pool; a split
design a prefill pool and a decode pool, each with its own ``tp``/``ep``, on the same chip kind. Every
design's chips fit the budget: at most ``budget`` chips, or at most ``budget`` dollars per hour at the
chips' list prices. Smaller designs are kept, not only those that spend the whole budget: the cheapest one
meeting the SLO is usually one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from infera.exceptions import CompileError
from infera.plan.blocks.design import DesignSpec

#: A search larger than this is an error at the budget (a finer budget or fewer tp degrees narrows it).
MAX_DESIGNS = 100_000


@dataclass(frozen=True)
class PoolChoice:
    chips: int
    tp: int
    ep: int


@dataclass(frozen=True)
class Design:
    mode: str  # "mixed" (pools = (gp,)) or "split" (pools = (prefill, decode))
    chip: str
    pools: tuple[PoolChoice, ...]

    @property
    def chips(self) -> int:
        return sum(p.chips for p in self.pools)

    @property
    def label(self) -> str:
        """``8 x h100_sxm tp4`` or ``2 x h100_sxm tp2 -> 6 x h100_sxm tp2`` (ep shown when above 1)."""
        def one(p: PoolChoice) -> str:
            return f"{p.chips} x {self.chip} tp{p.tp}" + (f" ep{p.ep}" if p.ep > 1 else "")
        return " -> ".join(one(p) for p in self.pools)


def designs(spec: DesignSpec, prices: dict[str, float], moe: bool) -> list[Design]:
    """Every design of ``spec``: by chip kind as listed, mixed before split, then by tp, ep and size.

    ``prices`` are the chips' list prices in $/h (needed for a $/h budget)."""
    out: list[Design] = []
    for chip, loc in zip(spec.chips, spec.chip_locs or (spec.budget_loc,) * len(spec.chips)):
        cap = _chip_cap(spec, chip, prices.get(chip, 0.0), loc)
        shapes = [(t, e) for t in spec.tp for e in (spec.ep if moe else (1,)) if e <= t and t % e == 0]
        if "mixed" in spec.modes:
            for t, e in shapes:
                out += [Design("mixed", chip, (PoolChoice(k * t, t, e),)) for k in range(1, cap // t + 1)]
        if "split" in spec.modes:
            for (tp_p, ep_p), (tp_d, ep_d) in ((a, b) for a in shapes for b in shapes):
                for n_pre, n_dec in _splits(cap, tp_p, tp_d):
                    out.append(Design("split", chip, (PoolChoice(n_pre, tp_p, ep_p), PoolChoice(n_dec, tp_d, ep_d))))
        if len(out) > MAX_DESIGNS:
            raise CompileError(f"design '{spec.name}': more than {MAX_DESIGNS:,} designs; lower the budget or "
                               f"give fewer tp degrees", spec.budget_loc)
    return out


def _chip_cap(spec: DesignSpec, chip: str, price: float, loc: object) -> int:
    """The most chips of one kind the budget buys."""
    if spec.budget_chips is not None:
        return spec.budget_chips
    assert spec.budget_usd_per_hour is not None
    if price <= 0:
        raise CompileError(f"design '{spec.name}': a budget in $/h needs chip '{chip}' to have a price "
                           f"(price = ... $/h)", loc)  # type: ignore[arg-type]
    # A hair of slack so that 100 $/h buys 25 chips at exactly 4 $/h despite rounding in the unit conversion.
    return int(spec.budget_usd_per_hour / price * (1 + 1e-9))


def _splits(cap: int, tp_pre: int, tp_dec: int) -> Iterator[tuple[int, int]]:
    """(prefill chips, decode chips): whole instances of each pool, at least one each, within ``cap``."""
    for k_pre in range(1, (cap - tp_dec) // tp_pre + 1):
        for k_dec in range(1, (cap - k_pre * tp_pre) // tp_dec + 1):
            yield k_pre * tp_pre, k_dec * tp_dec
