"""The designs a block allows, counted by hand, and the budget in chips or dollars per hour."""

from __future__ import annotations

from infera.designs import plan
from infera.designs.space import Design, PoolChoice

from design_cases import program


def labels(src: str) -> list[str]:
    (prep,) = plan(src)
    return [f"{d.mode} {d.label}" for d in prep.designs]


def test_mixed_designs_are_whole_instances_within_the_chip_budget() -> None:
    # tp 1: 1..4 chips; tp 2: 2 or 4 chips; per chip kind, 6 designs.
    got = labels(program("design d { model = tiny, traffic = t, slo = fast, chips = [small, large], budget = 4, "
                         "modes = [mixed], tp = [1, 2] }"))
    assert got == [f"mixed {n} x {c} tp{t}" for c in ("small", "large") for t, n in
                   [(1, 1), (1, 2), (1, 3), (1, 4), (2, 2), (2, 4)]]


def test_split_designs_count_by_hand() -> None:
    # Prefill + decode chips <= 4, each pool whole instances of its tp, at least one instance each:
    # tp (1,1): pairs (a,b) with a+b <= 4 -> 6; (1,2): a + 2 <= 4 -> a in 1,2 -> 2; (2,1): 2; (2,2): 1.
    (prep,) = plan(program("design d { model = tiny, traffic = t, slo = fast, chips = [large], budget = 4, "
                           "modes = [split], tp = [1, 2], link_bandwidth = 50 GB/s }"))
    assert len(prep.designs) == 6 + 2 + 2 + 1
    assert all(d.mode == "split" and d.chips <= 4 and len(d.pools) == 2 for d in prep.designs)
    assert Design("split", "large", (PoolChoice(2, 2, 1), PoolChoice(2, 2, 1))) in prep.designs
    assert len(set(prep.designs)) == len(prep.designs)


def test_the_default_searches_both_modes_and_counts_add_up() -> None:
    (prep,) = plan(program())  # budget 4, tp [1, 2], two chip kinds, both modes
    assert len(prep.designs) == 2 * (6 + 11)


def test_a_dollar_budget_buys_fewer_of_the_dearer_chip() -> None:
    # 6 $/h buys 6 small chips (1 $/h) but 2 large ones (3 $/h).
    (prep,) = plan(program("design d { model = tiny, traffic = t, slo = fast, chips = [small, large], "
                           "budget = 6 $/h, modes = [mixed], tp = [1] }"))
    by_chip = {c: max(d.chips for d in prep.designs if d.chip == c) for c in ("small", "large")}
    assert by_chip == {"small": 6, "large": 2}


def test_expert_parallel_degrees_apply_to_moe_models_only() -> None:
    moe = ("model moe extends tiny { experts = 4, experts_per_token = 2, moe_intermediate = 128 }\n")
    dense = labels(program("design d { model = tiny, traffic = t, slo = fast, chips = [large], budget = 4, "
                           "modes = [mixed], tp = [2], ep = [1, 2] }"))
    assert dense == ["mixed 2 x large tp2", "mixed 4 x large tp2"]
    sparse = labels(program("design d { model = moe, traffic = t, slo = fast, chips = [large], budget = 4, "
                            "modes = [mixed], tp = [1, 2], ep = [1, 2] }", extra=moe))
    # ep 2 only where it divides tp: tp 1 x ep 1 (4 sizes), tp 2 x ep 1 and tp 2 x ep 2 (2 sizes each).
    assert len(sparse) == 4 + 2 + 2
    assert "mixed 4 x large tp2 ep2" in sparse


def test_a_design_extends_another() -> None:
    src = program() + "design wide extends d { budget = 2, modes = [mixed] }\n"
    preps = plan(src, name="wide")
    assert [f"{d.label}" for d in preps[0].designs] == [
        "1 x small tp1", "2 x small tp1", "2 x small tp2", "1 x large tp1", "2 x large tp1", "2 x large tp2"]
