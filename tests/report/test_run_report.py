"""`infera run FILE --report out.html` for plain runs and for sweeps, and the message without the plot extra."""

from __future__ import annotations

import sys

import infera
from infera.cli import main
from report_helpers import Elements


def test_run_report_writes_the_page_of_the_runs(files, tmp_path, capsys):
    out = tmp_path / "pages" / "run.html"
    assert main(["run", str(files / "run.infera"), "--report", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    found = Elements(out.read_text(encoding="utf-8"))
    assert found.pres == [(files / "run.infera").read_text()]
    summary = infera.run(files / "run.infera").summary
    assert f"{summary['ttft_p99_s'][1]:.6g}" in found.cells
    assert set(found.specs()) == {"latency", "frontier", "goodput_cost", "utilisation", "timeline"}


def test_run_report_of_a_sweep_with_out_and_plot(files, tmp_path, capsys):
    out = tmp_path / "results"
    page = tmp_path / "sweep.html"
    assert main(["run", str(files / "sweep.infera"), "--out", str(out), "--plot", "--report", str(page),
                 "--backend", "serial", "--no-progress"]) == 0
    assert f"wrote {page}" in capsys.readouterr().out
    assert (out / "sweep.parquet").is_file() and (out / "frontier.svg").is_file()
    text = page.read_text(encoding="utf-8")
    assert 'id="sweep"' in text and set(Elements(text).specs()) == {"latency", "frontier", "goodput_cost"}
    # The page written from the CLI is the one the Python call writes.
    assert infera.report(files / "sweep.infera", tmp_path / "py.html", backend="serial").read_text() == text


def test_run_report_without_the_extra_says_what_to_install(files, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "vl_convert", None)  # what `import vl_convert` sees when not installed
    assert main(["run", str(files / "run.infera"), "--report", str(tmp_path / "r.html")]) == 2
    captured = capsys.readouterr()
    assert "pip install 'infera[plot]'" in captured.err
    assert captured.out == "" and not (tmp_path / "r.html").exists()  # said before simulating anything
