"""The fidelity table (docs/validation.md) stays reproducible, and the rows it gets right stay right."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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
