"""Chips beyond one tensor engine and one memory: the catalog, templates, engine routing and optical engines,
memory tiers and placement, per-operation energy, and calibration profiles. Expected figures are worked out
by hand from docs/cost-model.md and docs/calibration.md."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import polars as pl
import pytest

import infera
from helpers import H, KV, KV_PER_TOKEN, L, Q, TINY_MODEL, TINY_WEIGHTS, compile_error, program
from infera.calibrate import calibrate, load_profile
from infera.catalog import section
from infera.cli import main

ONE = "traffic one { arrivals = burst, prompt = 100 tokens, output = 5 tokens, requests = 1 }\n"


def steps(P: int, O: int) -> list[tuple[float, float, float, float]]:
    """(T, S, A, K) of each step of one request of P prompt and O output tokens, served alone."""
    return [(P, 1, P * (P + 1) / 2, P)] + [(1, 1, P + k, P + k) for k in range(1, O)]


# ---------------------------------------------------------------------------------------------------------
# Catalog


def test_every_catalog_chip_compiles_and_serves_a_small_model() -> None:
    chips = [n for n, b in section("chips").items() if "template" not in n]
    assert {"cerebras_wse3", "groq_lpu", "dmatrix_corsair", "sambanova_sn40l"} <= set(chips)
    for name in chips:
        text = (f"use chips.{name}\n{TINY_MODEL}{ONE}system s {{ pool p: 1 x {name} }}\n"
                f"run r {{ model = tiny, traffic = one, system = s }}\n")
        res = infera.simulate(infera.compile_text(text))
        assert res.summary["requests"][0] == 1, name
        assert res.summary["ttft_p50_s"][0] > 0, name


def test_sram_resident_chips_keep_the_weights_in_sram() -> None:
    for name in ("cerebras_wse3", "groq_lpu", "dmatrix_corsair", "sambanova_sn40l"):
        text = (f"use chips.{name}\n{TINY_MODEL}{ONE}system s {{ pool p: 1 x {name} }}\n"
                f"run r {{ model = tiny, traffic = one, system = s }}\n")
        plan = infera.compile_text(text)
        mems = plan["memories"].to_pylist()
        pool = plan["pools"].to_pylist()[0]
        assert mems[pool["weights_memory"]]["name"] == "sram", name
        assert mems[pool["kv_memory"]]["name"] == "sram", name


def test_unconfirmed_catalog_figures_say_so_in_their_source() -> None:
    sources = {name: src for sec, name, src in infera.catalog.entries() if sec == "chips"}
    for name in ("cerebras_wse3", "groq_lpu", "dmatrix_corsair", "sambanova_sn40l"):
        assert "UNCONFIRMED" in sources[name], name
    assert "user supplies figures" in sources["optical_hybrid_template"]


TEMPLATE_RUN = TINY_MODEL + """
model tiny8 extends tiny { weights = int8 }
traffic t { arrivals = burst, prompt = 100 tokens, output = 5 tokens, requests = 2 }
"""


def test_template_chip_cannot_be_used_until_its_figures_are_supplied() -> None:
    text = ("use chips.optical_hybrid_template\n" + TEMPLATE_RUN +
            "system s { pool p: 1 x optical_hybrid_template }\nrun r { model = tiny8, traffic = t, system = s }\n")
    msg = str(compile_error(text))
    assert "chip 'optical_hybrid_template' is a template" in msg
    for field in ("engine optical: int8", "engine optical: conversion_rate", "engine optical: conversion",
                  "engine tensor: bf16", "memory hbm: capacity", "memory hbm: bandwidth", "idle_power"):
        assert field in msg
    # Extending it with some figures still names the rest.
    partial = ("use chips.optical_hybrid_template\n" + TEMPLATE_RUN +
               "chip lumai extends optical_hybrid_template { idle_power = 80 W\n"
               "  memory hbm { capacity = 32 GB, bandwidth = 1 TB/s, energy = 5 pJ/B } }\n"
               "system s { pool p: 1 x lumai }\nrun r { model = tiny8, traffic = t, system = s }\n")
    msg = str(compile_error(partial))
    assert "engine optical: int8" in msg and "memory hbm" not in msg and "idle_power" not in msg


def test_template_extended_with_every_figure_compiles_and_runs() -> None:
    text = ("use chips.optical_hybrid_template\n" + TEMPLATE_RUN + """
chip lumai extends optical_hybrid_template {
  engine optical { kind = optical, int8 = 1000 TOPS, conversion_rate = 400 GB/s, conversion = 2 pJ/B,
                   energy = 0.05 pJ/FLOP }
  engine tensor { bf16 = 200 TFLOPS, energy = 0.5 pJ/FLOP }
  memory hbm { capacity = 32 GB, bandwidth = 1 TB/s, energy = 5 pJ/B }
  idle_power = 80 W
}
system s { pool p: 1 x lumai }
run r { model = tiny8, traffic = t, system = s }
""")
    plan = infera.compile_text(text)
    engines = {e["name"]: e for e in plan["engines"].to_pylist()}
    assert engines["optical"]["kind"] == "optical"
    assert engines["optical"]["conversion_bw"] == 400e9
    assert engines["optical"]["conversion_energy_per_byte"] == pytest.approx(2e-12)
    assert plan["chips"].to_pylist()[0]["matmul_engine"] == "optical"
    assert infera.simulate(plan).summary["requests"][0] == 2


# ---------------------------------------------------------------------------------------------------------
# Memory placement


def test_llama_70b_on_too_few_groq_chips_is_rejected_with_its_shortfall() -> None:
    text = """
use chips.groq_lpu, models.llama3_1_70b
traffic t { arrivals = burst, prompt = 100 tokens, output = 10 tokens, requests = 1 }
system s { pool p: 64 x groq_lpu, tp = 8, pp = 8, node_size = 64 }
run r { model = llama3_1_70b, traffic = t, system = s }
"""
    msg = str(compile_error(text))
    m = re.search(r"weights \((\d+\.\d+) GB\) fit in no memory .* the largest is sram with (\d+\.\d+) GB usable "
                  r"\(64 x groq_lpu 230 MB x memory_utilization 0.9\); short by (\d+\.\d+) GB", msg)
    assert m, msg
    weights, usable, short = map(float, m.groups())
    assert weights > 140  # 70.6 B parameters in bf16
    assert usable == pytest.approx(64 * 0.23 * 0.9, abs=0.005)
    assert short == pytest.approx(weights - 64 * 0.23 * 0.9, abs=0.01)


TIERED = """
chip tiered {
  bf16 = 100 TFLOPS
  vector = 10 TFLOPS
  compute_efficiency = 1.0
  memory sram { capacity = 4 MB, bandwidth = 100 TB/s, efficiency = 1.0, energy = 0.5 pJ/B }
  memory hbm { capacity = 1 GB, bandwidth = 1 TB/s, efficiency = 1.0, energy = 5 pJ/B }
  idle_power = 10 W
}
"""


def tiered_plan(pool_opts: str, prompt: int) -> infera.Plan:
    text = (TINY_MODEL + TIERED + f"traffic t {{ arrivals = burst, prompt = {prompt} tokens, output = 5 tokens, "
            f"requests = 1 }}\nsystem s {{ pool p: 1 x tiered{pool_opts} }}\n"
            f"run r {{ model = tiny, traffic = t, system = s }}\n")
    return infera.compile_text(text, file="chips.infera")


def placed(plan: infera.Plan) -> tuple[str, str, int]:
    mems = plan["memories"].to_pylist()
    pool = plan["pools"].to_pylist()[0]
    return mems[pool["weights_memory"]]["name"], mems[pool["kv_memory"]]["name"], pool["kv_blocks"]


def test_weights_and_kv_go_to_the_fastest_memory_that_holds_them() -> None:
    sram, hbm = 4e6 * 0.9, 1e9 * 0.9
    # Weights (3.39 MB) fit in SRAM; so does a full batch (4 x 25 tokens x 1 KiB) of short requests' KV.
    w, k, blocks = placed(tiered_plan(", max_batch = 4", 20))
    assert (w, k) == ("sram", "sram")
    assert blocks == int((sram - TINY_WEIGHTS) // (KV_PER_TOKEN * 16))
    # A full batch of 256 does not fit there (though one request would): the KV goes to HBM, the most room.
    w, k, blocks = placed(tiered_plan("", 20))
    assert (w, k) == ("sram", "hbm")
    assert blocks == int(hbm // (KV_PER_TOKEN * 16))
    # A 1000-token prompt's KV does not fit in what the weights leave of SRAM at all: HBM too.
    w, k, blocks = placed(tiered_plan(", max_batch = 1", 1000))
    assert (w, k) == ("sram", "hbm")
    # Explicit placement.
    w, k, blocks = placed(tiered_plan(", weights_in = hbm, kv_in = hbm", 100))
    assert (w, k) == ("hbm", "hbm")
    assert blocks == int((hbm - TINY_WEIGHTS) // (KV_PER_TOKEN * 16))


def test_explicit_placement_that_does_not_fit_states_the_shortfall() -> None:
    with pytest.raises(infera.CompileError) as exc:
        tiered_plan(", kv_in = sram", 1000)
    need = 1005 * KV_PER_TOKEN
    left = 4e6 * 0.9 - TINY_WEIGHTS
    msg = str(exc.value)
    assert f"the KV cache of the longest request (1005 tokens, {need / 1e6:.2f} MB)" in msg
    assert f"{left / 1e6:.2f} MB left in sram after the weights ({TINY_WEIGHTS / 1e6:.2f} MB)" in msg
    assert f"short by {(need - left) / 1e6:.2f} MB" in msg
    with pytest.raises(infera.CompileError, match=r"has no memory 'dram' \(memories: sram, hbm\)"):
        tiered_plan(", weights_in = dram", 100)
    with pytest.raises(infera.CompileError, match=r"weights \(3.39 MB\) do not fit in sram with 0.90 MB usable "
                       r"\(1 x tiered 1 MB x memory_utilization 0.9\); short by 2.49 MB"):
        text = TIERED.replace("capacity = 4 MB", "capacity = 1 MB")
        infera.compile_text(TINY_MODEL + text + ONE + "system s { pool p: 1 x tiered, weights_in = sram }\n"
                            "run r { model = tiny, traffic = one, system = s }\n")


def expected_step(plan: infera.Plan, T: float, S: float, A: float, K: float, *, overhead: float = 0.5e-3,
                  ) -> tuple[float, float]:
    """(seconds, dynamic joules) of one step on a single-chip pool, priced from the plan's tables the way
    docs/cost-model.md says: routing, tiers, conversion, per-operation energy."""
    chip = plan["chips"].to_pylist()[0]
    engines = plan["engines"].to_pylist()
    mems = plan["memories"].to_pylist()
    pool = plan["pools"].to_pylist()[0]
    wt, kt = mems[pool["weights_memory"]], mems[pool["kv_memory"]]
    route = chip["matmul_engine"].split(",") if chip["matmul_engine"] else ["tensor"]
    seconds, joules = overhead, 0.0
    for op in plan["operators"].to_pylist():
        if op["engine"] not in ("tensor", "vector"):
            continue
        attention = op["flops_per_attn_pair"] > 0 or op["bytes_per_kv_token"] > 0
        if op["engine"] == "vector":
            e = next(e for e in engines if e["kind"] == "vector")
        else:
            names = ["tensor"] if attention else route
            e = next(e for n in names for e in engines
                     if (e["name"] == n or e["kind"] == n) and e["dtype"] in (op["dtype"], "bf16"))
        c = op["count"]
        flops = c * (op["flops_per_token"] * T + op["flops_per_sampled"] * S + op["flops_per_attn_pair"] * A)
        w, act, kv = c * op["weight_bytes"], c * (op["bytes_per_token"] * T + op["bytes_per_sampled"] * S), \
            c * op["bytes_per_kv_token"] * K
        t = max(flops / (e["flops"] * e["efficiency"]),
                (w + act) / (wt["bandwidth"] * wt["efficiency"]) + kv / (kt["bandwidth"] * kt["efficiency"]))
        if e["conversion_bw"] > 0:
            t = max(t, (w + act + kv) / e["conversion_bw"])
        seconds += t
        joules += (flops * e["energy_per_flop"] + (w + act) * wt["energy_per_byte"] + kv * kt["energy_per_byte"]
                   + (w + act + kv) * e["conversion_energy_per_byte"])
    return seconds, joules


def test_step_times_read_weights_and_kv_at_their_tiers_bandwidths() -> None:
    # Weights in SRAM (100 TB/s), the KV cache in HBM (1 TB/s).
    plan = tiered_plan(", kv_in = hbm", 100)
    res = infera.simulate(plan)
    want = [expected_step(plan, *s)[0] for s in steps(100, 5)]
    assert res.iterations.sort("step")["duration_s"].to_list() == pytest.approx(want, rel=1e-12)
    # Everything in HBM is slower by exactly the weight reads moved off SRAM.
    slow = tiered_plan(", weights_in = hbm, kv_in = hbm", 100)
    got = infera.simulate(slow).iterations.sort("step")["duration_s"].to_list()
    assert got == pytest.approx([expected_step(slow, *s)[0] for s in steps(100, 5)], rel=1e-12)
    assert all(b > a for a, b in zip(want, got))


# ---------------------------------------------------------------------------------------------------------
# Engines: routing, precision, optical conversion


OPTICAL = TINY_MODEL + """
model tiny8 extends tiny { weights = int8 }
chip opt {
  matmul = optical
  engine optical { int8 = 400 TOPS, conversion_rate = 20 GB/s, conversion = 2 pJ/B, energy = 0.1 pJ/FLOP,
                   efficiency = 0.5 }
  engine tensor { bf16 = 100 TFLOPS, efficiency = 1, energy = 0.5 pJ/FLOP }
  engine vector { bf16 = 10 TFLOPS, efficiency = 1, energy = 1 pJ/FLOP }
  memory sram { capacity = 10 MB, bandwidth = 100 TB/s, energy = 0.5 pJ/B, efficiency = 1 }
  memory hbm { capacity = 1 GB, bandwidth = 1 TB/s, energy = 5 pJ/B, efficiency = 1 }
  idle_power = 10 W
}
""" + ONE
ON_OPT = "system s {{ pool p: 1 x opt }}\nrun r {{ model = {model}, traffic = one, system = s }}\n"


def test_bf16_model_cannot_run_on_an_int8_optical_engine() -> None:
    msg = str(compile_error(OPTICAL + ON_OPT.format(model="tiny")))
    assert ("no engine of chip 'opt' can run operator 'qkv_proj' of model 'tiny' at bf16: matmul runs on optical, "
            "which offers int8") in msg
    assert "weights = int8" in msg and "matmul = [optical, tensor]" in msg
    # With a fallback the bf16 matmuls run on the tensor engine, exactly as on a chip without the optical one.
    fallback = OPTICAL.replace("matmul = optical", "matmul = [optical, tensor]")
    plan = infera.compile_text(fallback + ON_OPT.format(model="tiny"))
    got = infera.simulate(plan).iterations.sort("step")["duration_s"].to_list()
    plain = fallback.replace("matmul = [optical, tensor]", "")
    plan2 = infera.compile_text(plain + ON_OPT.format(model="tiny"))
    assert got == infera.simulate(plan2).iterations.sort("step")["duration_s"].to_list()


def test_optical_engine_needs_its_conversion_figures() -> None:
    text = OPTICAL.replace("conversion_rate = 20 GB/s, ", "")
    msg = str(compile_error(text + ON_OPT.format(model="tiny8")))
    assert "an optical engine needs conversion_rate" in msg
    msg = str(compile_error(OPTICAL.replace("matmul = optical", "matmul = photonic") + ON_OPT.format(model="tiny8")))
    assert "matmul = photonic: the chip has no such engine" in msg


def test_optical_matmuls_pay_conversion_time_by_hand() -> None:
    plan = infera.compile_text(OPTICAL + "system s { pool p: 1 x opt, kv_in = hbm }\n"
                               "run r { model = tiny8, traffic = one, system = s }\n")
    res = infera.simulate(plan)
    got = res.iterations.sort("step")["duration_s"].to_list()
    assert got == pytest.approx([expected_step(plan, *s)[0] for s in steps(100, 5)], rel=1e-12)
    # By hand for one decode step's qkv_proj: 2 layers x (h (q + 2kv) int8 weights + (h + q + 2kv) x 2 B of
    # activations) through 20 GB/s converters, slower than its compute and its SRAM reads.
    qkv_bytes = L * (H * (Q + 2 * KV) * 1 + (H + Q + 2 * KV) * 2)
    conv = qkv_bytes / 20e9
    assert conv > L * 2 * H * (Q + 2 * KV) / 200e12 and conv > qkv_bytes / 100e12
    without = infera.compile_text(OPTICAL.replace("conversion_rate = 20 GB/s", "conversion_rate = 1e9 GB/s")
                                  + "system s { pool p: 1 x opt, kv_in = hbm }\n"
                                  "run r { model = tiny8, traffic = one, system = s }\n")
    fast = infera.simulate(without).iterations.sort("step")["duration_s"].to_list()
    assert got[1] - fast[1] >= conv - max(L * 2 * H * (Q + 2 * KV) / 200e12, qkv_bytes / 100e12) - 1e-15


def _energy_in_core(res: infera.Results) -> bool:
    return "busy_energy_j" in res.instances.columns


def test_optical_and_per_operation_energy_equal_hand_calculation() -> None:
    plan = infera.compile_text(OPTICAL + "system s { pool p: 1 x opt, kv_in = hbm }\n"
                               "run r { model = tiny8, traffic = one, system = s }\n")
    res = infera.simulate(plan)
    if not _energy_in_core(res):
        pytest.skip("the engine does not yet price steps with StepCost::step_energy_j (engine.rs)")
    it = res.iterations.sort("step")
    want = []
    for d, s in zip(it["duration_s"].to_list(), steps(100, 5)):
        want.append(10.0 * d + expected_step(plan, *s)[1])
    assert it["energy_j"].to_list() == pytest.approx(want, rel=1e-12)
    inst = res.instances.row(0, named=True)
    summary = res.summary.row(0, named=True)
    idle = 10.0 * (summary["duration_s"] - inst["busy_s"])
    assert summary["energy_j"] == pytest.approx(sum(want) + idle, rel=1e-12)
    assert summary["joules_per_output_token"] == pytest.approx((sum(want) + idle) / 5, rel=1e-12)


def test_pool_energy_and_money_per_output_token_add_up_to_the_summary() -> None:
    text = program("""
traffic chat { arrivals = poisson(20 /s), prompt = 200 tokens, output = 40 tokens, requests = 200 }
system split {
  pool pre: 1 x toy, role = prefill
  pool dec: 2 x toy, role = decode
  link pre -> dec { bandwidth = 50 GB/s }
}
run r { model = tiny, traffic = chat, system = split }
""")
    res = infera.simulate(infera.compile_text(text))
    pools, s = res.pools, res.summary.row(0, named=True)
    assert pools["joules_per_output_token"].sum() == pytest.approx(s["joules_per_output_token"], rel=1e-9)
    assert pools["usd_per_million_output_tokens"].sum() == pytest.approx(s["usd_per_million_output_tokens"],
                                                                         rel=1e-9)
    dec = pools.filter(pl.col("pool") == "dec").row(0, named=True)
    assert dec["joules_per_output_token"] == pytest.approx(dec["energy_j"] / s["output_tokens"], rel=1e-12)


# ---------------------------------------------------------------------------------------------------------
# Calibration


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_calibrate_takes_the_median_of_repeated_measurements(tmp_path: Path) -> None:
    raw = write_csv(tmp_path / "raw.csv", ["run", "operator", "tokens", "seconds"], [
        [1, "qkv_proj", 1, 3e-6], [2, "qkv_proj", 1, 1e-6], [3, "qkv_proj", 1, 2e-6],
        [1, "qkv_proj", 200, 4e-5], [2, "qkv_proj", 200, 6e-5],
        [1, "down_proj", 64, 7e-6],
    ])
    out = tmp_path / "profile.csv"
    assert main(["calibrate", str(raw), "-o", str(out)]) == 0
    profile = load_profile(out)
    got = {(p["operator"], p["x"]): (p["stat"], p["seconds"], p["tp"]) for p in profile}
    assert got == {("qkv_proj", 1.0): ("tokens", 2e-6, 1), ("qkv_proj", 200.0): ("tokens", 5e-5, 1),
                   ("down_proj", 64.0): ("tokens", 7e-6, 1)}
    frame = calibrate(raw)
    assert frame.filter(pl.col("x") == 1)["samples"].to_list() == [3]


def test_profile_with_a_repeated_shape_or_a_bad_row_is_rejected(tmp_path: Path) -> None:
    dup = write_csv(tmp_path / "dup.csv", ["operator", "x", "seconds"], [["qkv_proj", 1, 1e-6], ["qkv_proj", 1, 2e-6]])
    with pytest.raises(ValueError, match="infera calibrate"):
        load_profile(dup)
    bad = write_csv(tmp_path / "bad.csv", ["operator", "x", "stat", "seconds"], [["attention", 10, "pairs", 1e-6]])
    with pytest.raises(ValueError, match=r"bad.csv:2: stat must be one of"):
        load_profile(bad)
    neg = write_csv(tmp_path / "neg.csv", ["operator", "tokens", "seconds"], [["qkv_proj", 10, 0]])
    assert main(["calibrate", str(neg), "-o", str(tmp_path / "x.csv")]) == 2


def roof_qkv(T: float) -> float:
    """The toy chip's roofline for one step's qkv_proj, both layers (efficiencies 1, 100 TFLOPS, 1 TB/s)."""
    return L * max(2 * H * (Q + 2 * KV) * T / 100e12, (H * (Q + 2 * KV) * 2 + (H + Q + 2 * KV) * 2 * T) / 1e12)


def test_profile_overrides_the_roofline_exactly_at_measured_points_and_interpolates(tmp_path: Path) -> None:
    write_csv(tmp_path / "toy_profile.csv", ["operator", "stat", "x", "seconds"],
              [["qkv_proj", "tokens", 1, 2e-6], ["qkv_proj", "tokens", 200, 4e-5]])
    body = ONE + ("chip measured extends toy { profile = \"toy_profile.csv\" }\n"
                  "system s { pool p: 1 x {CHIP}, step_overhead = 1 ms }\n"
                  "run r { model = tiny, traffic = one, system = s }\n")
    src = tmp_path / "m.infera"
    src.write_text(program(body.replace("{CHIP}", "measured")))
    base = tmp_path / "b.infera"
    base.write_text(program(body.replace("{CHIP}", "toy")))
    got = infera.run(src).iterations.sort("step")["duration_s"].to_list()
    ref = infera.run(base).iterations.sort("step")["duration_s"].to_list()
    # The prefill step (100 tokens) lies between the measured points: linear interpolation.
    y = 2e-6 + (4e-5 - 2e-6) * (100 - 1) / (200 - 1)
    assert got[0] == pytest.approx(ref[0] - roof_qkv(100) + L * y, rel=1e-12)
    # Each decode step (1 token) is a measured point: the measured time replaces the roofline exactly.
    for g, r in zip(got[1:], ref[1:]):
        assert g == pytest.approx(r - roof_qkv(1) + L * 2e-6, rel=1e-12)
    assert got[1] != pytest.approx(ref[1], rel=1e-6)


def test_profile_file_is_resolved_next_to_the_infera_file_and_errors_are_located(tmp_path: Path) -> None:
    src = tmp_path / "m.infera"
    src.write_text(program(ONE + "chip measured extends toy { profile = \"missing.csv\" }\n"
                           "system s { pool p: 1 x measured }\nrun r { model = tiny, traffic = one, system = s }\n"))
    with pytest.raises(infera.CompileError) as exc:
        infera.compile_file(src)
    assert "missing.csv" in str(exc.value) and exc.value.loc.file == str(src)
