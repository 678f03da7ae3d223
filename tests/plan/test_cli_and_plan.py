"""The CLI (exit codes, messages, outputs) and the plan as a file: Arrow IPC written, read, simulated by Rust."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

import infera
from infera import _core
from infera.cli import main
from infera.plan.tables import SCHEMAS, Plan
from helpers import ROOT, program

QUICKSTART = ROOT / "examples" / "quickstart.infera"

SMALL = program("""
traffic t { arrivals = poisson(20 /s), prompt = 200 tokens, output = 20 tokens, requests = 200 }
system s { pool p: 2 x toy }
run r { model = tiny, traffic = t, system = s, seed = 11 }
""")


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    f = tmp_path / "small.infera"
    f.write_text(SMALL)
    return f


def test_run_prints_summary_and_writes_parquet(small_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["run", str(small_file), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "throughput_rps" in printed and "r/s" in printed
    for name in ("requests", "iterations", "instances", "summary"):
        assert (out / f"{name}.parquet").exists()
    req = pl.read_parquet(out / "requests.parquet")
    assert req.height == 200
    assert {"ttft_s", "tpot_mean_s", "tpot_p99_s", "e2e_s", "queue_s", "preemptions", "slo_met"} <= set(req.columns)


def test_check_reports_ok(small_file: Path, capsys) -> None:
    assert main(["check", str(small_file)]) == 0
    assert "ok (1 run(s), 1 pool(s), 200 requests)" in capsys.readouterr().out


def test_syntax_error_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.infera"
    bad.write_text("traffic t {\n  requests = 5\n  prompt = \n}\n")
    proc = subprocess.run([sys.executable, "-m", "infera.cli", "check", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert f"{bad}:4:1" in proc.stderr
    assert "^" in proc.stderr and "expected" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_semantic_error_exits_2_with_location(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.infera"
    bad.write_text(SMALL.replace("2 x toy", "2 x toy, tp = 3"))
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err
    line = next(i for i, l in enumerate(bad.read_text().splitlines(), 1) if "pool p:" in l)
    assert err.startswith(f"{bad}:{line}:")
    assert "chips do not divide" in err


def test_missing_file_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["check", str(tmp_path / "nope.infera")]) == 2
    assert "nope.infera" in capsys.readouterr().err


def test_compile_then_simulate_file_matches_direct(small_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "plan.arrow"
    assert main(["compile", str(small_file), "-o", str(path)]) == 0
    direct = infera.run(small_file)
    from_file = infera.simulate(path)
    assert direct.requests.equals(from_file.requests)
    # The Rust reader (no Python in the loop) gives the same rows too.
    req = pa.table(_core.simulate_file(str(path))[0])
    assert pl.from_arrow(req).equals(direct.requests)


def test_plan_round_trip_keeps_every_table(small_file: Path, tmp_path: Path) -> None:
    plan = infera.compile_file(small_file)
    path = tmp_path / "plan.arrow"
    plan.save(path)
    back = Plan.load(path)
    for name, schema in SCHEMAS.items():
        assert back[name].schema.equals(schema), name
        assert back[name].equals(plan[name]), name


def test_plan_errors_from_rust_become_plan_error(small_file: Path) -> None:
    plan = infera.compile_file(small_file)
    pools = plan["pools"].set_column(plan["pools"].schema.get_field_index("chip"), "chip",
                                     pa.array([99], pa.uint32()))
    broken = Plan({**plan.tables, "pools": pools})
    with pytest.raises(infera.PlanError, match="pools.chip.*does not exist"):
        infera.simulate(broken)
    arrivals = plan["requests"].set_column(1, "arrival_s", pa.array([float("nan")] * 200))
    with pytest.raises(infera.PlanError, match="arrival_s"):
        infera.check(Plan({**plan.tables, "requests": arrivals}))


def test_load_rejects_non_plan_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.arrow"
    junk.write_bytes(b"not arrow at all")
    with pytest.raises(infera.PlanError):
        Plan.load(junk)


def test_catalog_command_lists_entries(capsys) -> None:
    assert main(["catalog"]) == 0
    out = capsys.readouterr().out
    assert "h100_sxm" in out and "llama3_1_70b" in out and "config.json" in out


def test_quickstart_runs_through_installed_console_script(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "infera"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "infera.cli"]
    proc = subprocess.run([*cmd, "run", str(QUICKSTART), "--out", str(tmp_path)], capture_output=True, text=True,
                          env={**os.environ, "POLARS_MAX_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    summary = pl.read_parquet(tmp_path / "summary.parquet")
    assert summary["requests"][0] == 2000
    assert summary["throughput_rps"][0] == pytest.approx(20, rel=0.1)


def test_grammar_ships_inside_the_package() -> None:
    from importlib import resources

    grammar = resources.files("infera.dsl").joinpath("infera.lark")
    assert grammar.is_file()
    assert (ROOT / "grammar" / "infera.lark").read_text() == grammar.read_text()
