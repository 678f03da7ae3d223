"""Running sweeps: worker processes give the frame one process gives, the CLI writes sweep.parquet, the
progress bar counts points, and Ctrl-C keeps the finished points."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import infera
from infera.dsl import parse
from infera.plan import overrides
from infera.plan.compiler import sweep_specs
from infera.sweeps.execute import SweepInterrupted, execute
from infera.sweeps.points import run_point, tasks

from conftest import program
from helpers import ROOT

GRID = "sweep g { traffic.t.arrivals.rate = [10 /s, 40 /s], system.one.pool.gp.chips = [1, 2, 3] }"


def test_worker_processes_give_the_serial_frame(tmp_path: Path) -> None:
    serial = infera.sweep(program(GRID), backend="serial", progress=False)
    local = infera.sweep(program(GRID), backend="local", workers=2, progress=False, out=tmp_path)
    assert local.equals(serial)
    assert pl.read_parquet(tmp_path / "sweep.parquet").equals(serial)
    assert not (tmp_path / "sweep.parts").exists()


def test_a_worker_done_early_is_not_a_failure() -> None:
    # The short point's worker has no more tasks and exits while the long point still runs; its end of
    # output is its clean exit, not a worker that stopped.
    uneven = program("sweep s { traffic.t.requests = [100, 100000] }")
    local = infera.sweep(uneven, backend="local", workers=2, progress=False)
    assert local.height == 4 and local["error"].null_count() == 4
    assert local.sort("point", "system").equals(infera.sweep(uneven, backend="serial", progress=False))


def test_cli_run_writes_sweep_parquet_and_prints_the_points(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "python"), str(ROOT / "tests")]))
    proc = subprocess.run([sys.executable, "-m", "infera.cli", "run", str(ROOT / "examples/sweep_rate.infera"),
                           "--out", str(tmp_path), "--workers", "2", "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    frame = pl.read_parquet(tmp_path / "sweep.parquet")
    assert frame.height == 12 and set(frame["system"]) == {"tp1", "tp2"}
    assert frame["traffic.chat.arrivals.rate"].unique().sort().to_list() == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert "traffic.chat.arrivals.rate" in proc.stdout and "wrote" in proc.stdout


def test_the_progress_bar_counts_points(capsys: pytest.CaptureFixture[str]) -> None:
    infera.sweep(program(GRID), backend="serial", progress=True)
    err = capsys.readouterr().err
    assert "6/6" in err and "pt/s" in err


def _stop_after(n: int):
    """A backend that computes ``n`` points, then is interrupted as by Ctrl-C."""
    def backend(prog, work, workers):
        for t in work[:n]:
            yield run_point(prog, t)
        raise KeyboardInterrupt

    return backend


def test_an_interrupted_sweep_keeps_and_writes_its_finished_points(tmp_path: Path) -> None:
    prog = parse(program(GRID))
    specs = sweep_specs(prog)
    with pytest.raises(SweepInterrupted) as stop:
        execute(overrides.flatten(prog), tasks(specs), _stop_after(4), workers=1, out=tmp_path, progress=False,
                order={"g": 0})
    assert (stop.value.done, stop.value.total) == (4, 6)
    kept = pl.read_parquet(tmp_path / "sweep.parquet")
    assert kept["point"].unique().sort().to_list() == [0, 1, 2, 3]
    assert kept.equals(stop.value.frame)


def test_ctrl_c_on_the_cli_keeps_the_finished_points(tmp_path: Path) -> None:
    many = program("sweep long { traffic.t.requests = range(200, 40000, step = 200) }")
    src = tmp_path / "long.infera"
    src.write_text(many)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "python"), str(ROOT / "tests")]))
    proc = subprocess.Popen([sys.executable, "-m", "infera.cli", "run", str(src), "--out", str(out),
                             "--workers", "2", "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)
    deadline = time.monotonic() + 300
    while not list((out / "sweep.parts").glob("part-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    kept = pl.read_parquet(out / "sweep.parquet")
    assert 0 < kept["point"].n_unique() < 200
    assert "points finished" in err
    assert not (out / "sweep.parts").exists()


def test_an_unknown_backend_is_an_error() -> None:
    with pytest.raises(infera.InferaError, match="unknown sweep backend 'cloud'"):
        infera.sweep(program(GRID), backend="cloud")
