"""The design frame: each design's numbers are those of the same system written by hand, the frontier is
Pareto-optimal, and the cheapest design meeting the SLO is the right one."""

from __future__ import annotations

import polars as pl
import pytest

import infera
from infera.designs import cheapest, frontier

from design_cases import BASE, program


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return infera.design(program(), backend="serial", progress=False)


def test_a_design_simulates_as_its_hand_written_system(frame: pl.DataFrame) -> None:
    hand = BASE + """
system m { pool gp: 4 x small, tp = 2 }
system s { pool pre: 2 x large, tp = 2, role = prefill
           pool dec: 1 x large, tp = 1, role = decode
           link pre -> dec { bandwidth = 50 GB/s } }
run r { model = tiny, traffic = t, slo = fast, systems = [m, s], seed = 1 }
"""
    summary = infera.simulate(infera.compile_text(hand)).summary
    for system, label in (("m", "4 x small tp2"), ("s", "2 x large tp2 -> 1 x large tp1")):
        want = summary.filter(pl.col("system") == system).row(0, named=True)
        got = frame.filter(pl.col("label") == label).row(0, named=True)
        for col in ("throughput_rps", "goodput_rps", "ttft_p99_s", "tpot_p50_s", "energy_j", "slo_attainment"):
            assert got[col] == want[col], col
        assert got["throughput_per_chip"] == want["output_tokens_per_s"] / want["chips"]
        assert got["tokens_per_s_per_user"] == 1 / want["tpot_p50_s"]
        assert got["goodput_per_j"] == want["goodput_rps"] * want["duration_s"] / want["energy_j"]


def test_the_frontier_is_pareto_optimal(frame: pl.DataFrame) -> None:
    sim = frame.filter(pl.col("simulated"))
    pts = list(zip(sim["throughput_per_chip"], sim["tokens_per_s_per_user"]))
    for (x, y), on in zip(pts, sim["pareto"]):
        dominated = any(a >= x and b >= y and (a > x or b > y) for a, b in pts)
        assert on == (not dominated)
    front = frontier(frame)
    assert 0 < front.height < sim.height
    assert front["throughput_per_chip"].is_sorted(descending=True)
    assert frame.filter(~pl.col("simulated"))["pareto"].sum() == 0


def test_goodput_per_dollar_uses_list_prices(frame: pl.DataFrame) -> None:
    row = frame.filter(pl.col("label") == "2 x large tp2 -> 2 x large tp2").row(0, named=True)
    assert row["usd_per_hour"] == 12.0
    assert row["goodput_per_usd"] == pytest.approx(row["goodput_rps"] * 3600 / 12.0)
    assert row["goodput_rps_per_chip"] == pytest.approx(row["goodput_rps"] / 4)


def test_the_cheapest_design_meeting_the_slo_by_hand() -> None:
    # A tight TTFT: the two-chip designs meet it for ~90 % of requests, the four-chip ones for ~99 %; at a
    # 95 % attainment the cheapest that meets it is four small chips (4 $/h), not four large (12 $/h).
    src = BASE.replace("ttft.p99 < 50 ms", "ttft.p99 < 0.8 ms") + """
design d { model = tiny, traffic = t, slo = fast, chips = [small, large], budget = 4, modes = [mixed], tp = [2],
           attainment = 95 %, seed = 1 }
"""
    frame = infera.design(src, backend="serial", progress=False)
    assert frame["label"].to_list() == ["2 x small tp2", "4 x small tp2", "2 x large tp2", "4 x large tp2"]
    assert frame["meets_slo"].to_list() == [False, True, False, True]
    assert cheapest(frame)["label"].to_list() == ["4 x small tp2"]


def test_no_design_meeting_the_slo_gives_no_cheapest() -> None:
    src = BASE.replace("ttft.p99 < 50 ms", "ttft.p99 < 1 us") + """
design d { model = tiny, traffic = t, slo = fast, chips = [large], budget = 2, modes = [mixed], tp = [1] }
"""
    frame = infera.design(src, backend="serial", progress=False)
    assert frame.height == 2 and not frame["meets_slo"].any() and cheapest(frame).height == 0


def test_worker_processes_give_the_serial_frame(frame: pl.DataFrame) -> None:
    local = infera.design(program(), backend="local", workers=2, progress=False)
    assert local.equals(frame)
