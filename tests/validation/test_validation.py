"""The fidelity table (docs/validation.md) stays reproducible, and the rows it gets right stay right."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

import infera
from helpers import ROOT

spec = importlib.util.spec_from_file_location("validate", ROOT / "validation" / "validate.py")
validate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(validate)  # type: ignore[union-attr]
ROWS = {r["row"]: r for r in csv.DictReader((ROOT / "validation" / "published.csv").open())}


@pytest.mark.parametrize("row", ["trt-h100-7b-128-2048", "trt-h100-7b-2048-128", "trt-h100-7b-2048-2048",
                                 "trt-a100-7b-128-128", "trt-a100-70b-2048-128", "trt-a100-7b-ttft-2048"])
def test_single_gpu_and_long_prompt_rows_within_ten_percent(row: str) -> None:
    r = ROWS[row]
    pred = validate.predict(r)
    assert pred == pytest.approx(float(r["measured"]), rel=0.10)


def test_every_published_row_names_its_source() -> None:
    for r in ROWS.values():
        assert r["source"].strip() and float(r["measured"]) > 0


# ----------------------------------------------------------------------------------------------------------
# Our own GPU measurements (validation/gpu/) and the profiles made from them

validate_gpu = validate.validate_gpu


@pytest.mark.parametrize("gpu", ["h100", "h200"])
@pytest.mark.parametrize("kind", ["bf16", "fp8"])
def test_shipped_profiles_are_the_calibration_of_the_shipped_measurements(gpu: str, kind: str,
                                                                          tmp_path: Path) -> None:
    raw = ROOT / "validation" / "gpu" / gpu / ("measurements.csv" if kind == "bf16" else "measurements_fp8.csv")
    shipped = ROOT / "validation" / f"{gpu}_{kind}_profile.csv"
    made = infera.calibrate(raw, tmp_path / "profile.csv")
    assert (tmp_path / "profile.csv").read_text() == shipped.read_text()
    assert made.height > 100 and (made["samples"] == 5).all()


def test_a_measured_h100_operator_is_priced_exactly_by_the_shipped_profile() -> None:
    data, chip, profile = validate_gpu.MEASURED["h100"]
    prof = {(r["model"], r["operator"], float(r["x"])): float(r["seconds"])
            for r in csv.DictReader(profile.open())}
    for op, tokens in [("gate_up_proj", 64), ("down_proj", 1024), ("attn_norm", 1)]:
        got = validate_gpu.operator_seconds(chip, "llama3_1_8b", op, tokens, 1, 1, 0, profile=profile)
        assert got == pytest.approx(prof[("llama3_1_8b", op, float(tokens))], rel=1e-9)
    # Between measured token counts the profile interpolates linearly.
    lo, hi = prof[("llama3_1_8b", "gate_up_proj", 1024.0)], prof[("llama3_1_8b", "gate_up_proj", 2048.0)]
    mid = validate_gpu.operator_seconds(chip, "llama3_1_8b", "gate_up_proj", 1536, 1, 1, 0, profile=profile)
    assert mid == pytest.approx((lo + hi) / 2, rel=1e-9)


def test_operator_price_read_from_the_core_is_the_documented_roofline() -> None:
    """`operator_seconds` (step minus the step without the operator) gives docs/cost-model.md's formula: a
    16,384-token gate/up projection of Llama-3.1-8B on an H100 is compute bound at 0.7 x 989.4 TFLOP/s, plus the
    catalog's 3 us kernel overhead, with `kernels = roofline`; by default (shaped kernels) at the fitted 0.78 of
    the peak with 67 padded rows (docs/cost-model.md, "Kernel efficiency by shape")."""
    got = validate_gpu.operator_seconds("h100_sxm", "llama3_1_8b", "gate_up_proj", 16384, 1, 1, 0, roofline=True)
    flops = 2 * 16384 * 4096 * 2 * 14336
    assert got == pytest.approx(flops / (989.4e12 * 0.7) + 3e-6, rel=1e-9)
    shaped = validate_gpu.operator_seconds("h100_sxm", "llama3_1_8b", "gate_up_proj", 16384, 1, 1, 0)
    assert shaped == pytest.approx(flops * (16384 + 67) / 16384 / (989.4e12 * 0.78) + 3e-6, rel=1e-9)


@pytest.mark.parametrize("gpu", ["h100", "h200"])
def test_generation_rows_we_measured_stay_within_thirty_percent(gpu: str) -> None:
    data, chip, profile = validate_gpu.MEASURED[gpu]
    _, default, calibrated, _ = validate_gpu.generation_rows(data, chip, profile)
    assert len(default) == 22
    assert max(default) < 30 and max(calibrated) < 30
    assert sorted(default)[len(default) // 2] < 20


def test_dense_llama2_7b_throughput_rows_are_unbiased_and_within_ten_percent() -> None:
    """The control class of the fidelity page: 19 published throughput rows of a dense MHA model on three GPUs
    and two releases."""
    rows = [r for r in ROWS.values() if r["model"] == "llama2_7b" and r["metric"] == "output_tokens_per_s_per_gpu"]
    assert len(rows) == 19
    errors = sorted(100 * (validate.predict(r) - float(r["measured"])) / float(r["measured"]) for r in rows)
    median = errors[len(errors) // 2]
    assert abs(median) < 5
    assert sorted(map(abs, errors))[len(errors) // 2] < 10
