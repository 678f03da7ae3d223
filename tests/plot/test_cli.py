"""`infera plot` and `infera run --plot` on real files, and the message when the plotting extra is missing."""

from __future__ import annotations

import sys

import polars as pl
import pytest

import infera.plot as P
from plot_helpers import SWEEP, SYSTEMS, dataset
from helpers import TINY, program
from infera.cli import main


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "sweep.infera").write_text(program(SYSTEMS + SWEEP, TINY))
    (tmp_path / "run.infera").write_text(program(SYSTEMS, TINY))
    return tmp_path


def test_run_plot_writes_the_sweep_figures_into_out(files, capsys):
    out = files / "out"
    assert main(["run", str(files / "sweep.infera"), "--out", str(out), "--plot", "--no-progress",
                 "--backend", "serial"]) == 0
    for kind in ("latency", "frontier", "goodput_cost"):
        assert (out / f"{kind}.svg").read_text().lstrip().startswith("<svg")
    assert "frontier.svg" in capsys.readouterr().out
    # The folder then plots again, one figure by kind, the format by the suffix.
    assert main(["plot", str(out), "--kind", "latency", "--by", "system", "-o", str(files / "l.png")]) == 0
    assert (files / "l.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_plot_of_plain_runs_adds_utilisation_and_timeline(files):
    out = files / "plain"
    assert main(["run", str(files / "run.infera"), "--out", str(out), "--plot"]) == 0
    assert {p.name for p in out.glob("*.svg")} == {f"{k}.svg" for k in P.KINDS}
    assert main(["plot", str(out / "requests.parquet"), "--kind", "timeline", "--request", "3", "5",
                 "--system", "split", "-o", str(files / "t.html")]) == 0
    assert "vegaEmbed" in (files / "t.html").read_text()


def test_plot_a_infera_file_into_a_folder(files):
    assert main(["plot", str(files / "run.infera"), "-o", str(files / "figs"), "--format", "png"]) == 0
    assert sorted(p.stem for p in (files / "figs").glob("*.png")) == sorted(P.KINDS)


def test_plot_errors_are_clear(files, capsys):
    frame = P.load(files / "sweep.infera").summary
    frame.write_parquet(files / "sweep.parquet")
    assert dataset(P.load(files / "sweep.parquet").chart("frontier").to_dict())
    assert main(["plot", str(files / "sweep.parquet"), "--kind", "timeline", "-o", str(files / "t.svg")]) == 2
    assert "needs requests.parquet" in capsys.readouterr().err
    assert main(["run", str(files / "run.infera"), "--plot"]) == 2
    assert "give --out DIR" in capsys.readouterr().err
    pl.DataFrame({"a": [1]}).write_parquet(files / "other.parquet")
    assert main(["plot", str(files / "other.parquet"), "--kind", "latency", "-o", str(files / "x.svg")]) == 2
    assert "not a sweep, summary" in capsys.readouterr().err


def test_missing_extra_names_the_install_command(files, monkeypatch, sweep_frame, capsys):
    monkeypatch.setitem(sys.modules, "altair", None)  # what `import altair` sees when it is not installed
    with pytest.raises(P.PlotError, match=r"pip install 'infera\[plot\]'"):
        P.frontier(sweep_frame)
    assert main(["run", str(files / "run.infera"), "--out", str(files / "o"), "--plot"]) == 2
    assert "pip install 'infera[plot]'" in capsys.readouterr().err
    assert not (files / "o").exists()  # reported before simulating anything
    monkeypatch.setitem(sys.modules, "vl_convert", None)
    monkeypatch.delitem(sys.modules, "altair")
    with pytest.raises(P.PlotError, match=r"vl-convert-python: pip install 'infera\[plot\]'"):
        P.save(P.frontier(sweep_frame), files / "x.svg")
