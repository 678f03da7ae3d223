"""Running a search: the CLI prints the frontier and the cheapest design and writes design.parquet, the
bundled example finds its cheapest design, and Ctrl-C keeps the designs that finished."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import infera
from infera.exceptions import CompileError
from infera.sweeps import backends
from infera.sweeps.execute import SweepInterrupted

from design_cases import program
from helpers import ROOT


def test_cli_design_writes_the_frame_and_prints_the_verdicts(tmp_path: Path) -> None:
    src = tmp_path / "d.infera"
    src.write_text(program())
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "python"), str(ROOT / "tests")]))
    proc = subprocess.run([sys.executable, "-m", "infera.cli", "design", str(src), "--out", str(tmp_path / "o"),
                           "--backend", "serial", "--no-progress"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "design 'd': 34 designs, 14 pruned (do not fit), 20 simulated" in proc.stdout
    assert "Pareto frontier" in proc.stdout and "cheapest design meeting the SLO" in proc.stdout
    frame = pl.read_parquet(tmp_path / "o" / "design.parquet")
    assert frame.height == 34 and frame["cheapest"].sum() == 1


def test_cli_design_reports_a_located_error(tmp_path: Path) -> None:
    src = tmp_path / "bad.infera"
    src.write_text(program().replace("budget = 4", "budget = 4 GB"))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    proc = subprocess.run([sys.executable, "-m", "infera.cli", "design", str(src)], capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 2
    assert f"{src}:" in proc.stderr and "budget is a chip count" in proc.stderr


def test_the_example_prunes_tp1_and_finds_a_cheapest_design() -> None:
    frame = infera.design(ROOT / "examples/design_search.infera", progress=False, workers=2)
    pruned = frame.filter(~pl.col("fits"))
    assert pruned.height > 0
    tp1 = (pl.col("mixed_tp") == 1) | (pl.col("prefill_tp") == 1) | (pl.col("decode_tp") == 1)
    assert frame.filter(tp1)["fits"].sum() == 0  # 70B in bf16 fits no single chip
    assert frame.filter(~tp1)["fits"].all()
    assert frame["chips"].max() <= 16
    best = frame.filter(pl.col("cheapest"))
    assert best.height == 1
    ok = frame.filter(pl.col("meets_slo"))
    assert best["usd_per_hour"][0] == ok["usd_per_hour"].min()


def test_ctrl_c_keeps_the_designs_that_finished(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = backends.serial

    def interrupted(program, tasks, workers):  # noqa: ANN001, ANN202 - a backend, as the executor calls it
        stream = real(program, tasks, workers)
        yield next(stream)
        yield next(stream)
        raise KeyboardInterrupt

    monkeypatch.setitem(backends.BACKENDS, "serial", interrupted)
    with pytest.raises(SweepInterrupted) as info:
        infera.design(program(), backend="serial", progress=False, out=tmp_path)
    frame = info.value.frame
    assert info.value.done == 2 and frame.height == 34
    assert frame["simulated"].sum() == 2
    assert pl.read_parquet(tmp_path / "design.parquet").equals(frame)


def test_a_bad_backend_is_an_error() -> None:
    with pytest.raises(infera.InferaError, match="unknown sweep backend"):
        infera.design(program(), backend="nope")
    assert CompileError  # the module's errors are infera's own
