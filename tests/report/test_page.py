"""The report page of a run and of a sweep: self-contained, holding the summary numbers, the figures' specs
and the inputs; the same inputs give the same bytes; every input form and the errors."""

from __future__ import annotations

import json
import re

import pytest

import infera
import infera.plot as P
from report_helpers import Elements


def _outside_scripts(text: str) -> str:
    return re.sub(r"<script\b[^>]*>.*?</script>", "", text, flags=re.DOTALL | re.IGNORECASE)


@pytest.mark.parametrize("page", ["run_page", "sweep_page"])
def test_page_fetches_nothing_from_the_network(page, request):
    text = request.getfixturevalue(page).read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    found = Elements(text)
    assert found.remote() == []
    assert not [a for t, a in found.tags if t == "script" and "src" in a]  # every script is inline
    assert not [t for t, _ in found.tags if t in ("link", "img", "iframe", "object", "embed", "base")]
    # The only addresses are strings inside the inlined libraries and specs (a schema's name, the editor's
    # address that the page's menu leaves out), none of them loaded.
    assert not re.search(r"https?://", _outside_scripts(text))
    assert len([t for t, _ in found.tags if t == "script"]) == 3  # the specs, the libraries, the drawing


def test_run_page_holds_the_summary_and_pool_numbers(files, run_page):
    found = Elements(run_page.read_text(encoding="utf-8"))
    results = infera.run(files / "run.infera")  # the same file and seed: the same numbers
    cells = set(found.cells)
    for row in results.summary.iter_rows(named=True):
        for metric in ("throughput_rps", "goodput_rps", "ttft_p99_s", "tpot_p50_s", "energy_j", "cost_usd"):
            assert f"{row[metric]:.6g}" in cells, (row["system"], metric)
    assert {"r/mixed", "r/split"} <= set(re.findall(r"<th>(r/\w+)</th>", run_page.read_text()))
    pools = results.pools
    assert pools.height == 3
    for row in pools.iter_rows(named=True):
        assert f"{row['utilization']:.6g}" in cells and row["pool"] in cells


def test_run_page_holds_its_inputs(files, run_page):
    text = run_page.read_text(encoding="utf-8")
    found = Elements(text)
    assert found.pres == [(files / "run.infera").read_text()]  # the source, escaped and whole
    assert "</script><script>alert(1)" not in text  # the source's "</script>" did not end a script
    seeds = re.search(r"<h3>Seeds</h3>(.*?)</table>", text, re.DOTALL).group(1)
    assert re.findall(r"<tr><td>(\w+)</td><td>(\w+)</td><td>(\d+)</td></tr>", seeds) == [
        ("r", "mixed", "11"), ("r", "split", "11")]
    assert f"<td>{infera.__version__}</td>" in text
    assert f"<td>{files / 'run.infera'}</td>" in text


def test_run_page_draws_every_figure_from_the_runs_frames(files, run_page):
    found = Elements(run_page.read_text(encoding="utf-8"))
    specs = found.specs()
    assert set(specs) == set(P.KINDS) == set(found.charts)  # priced and with per-step rows: all five
    results = infera.run(files / "run.infera")
    assert specs["frontier"] == json.loads(json.dumps(results.plot.frontier().to_dict()))
    assert specs["timeline"] == json.loads(json.dumps(results.plot.timeline().to_dict()))


def test_sweep_page_holds_the_sweep_frame(files, sweep_page):
    text = sweep_page.read_text(encoding="utf-8")
    found = Elements(text)
    assert 'id="sweep"' in text and 'id="summary"' not in text and 'id="pools"' not in text
    frame = infera.sweep(files / "sweep.infera", backend="serial", progress=False)
    assert frame.height == 6
    headline = re.search(r'<section id="sweep">.*?<tbody>(.*?)</tbody>', text, re.DOTALL).group(1)
    assert headline.count("<tr>") == 6  # a row per point and system
    cells = set(found.cells)
    for row in frame.iter_rows(named=True):
        assert f"{row['traffic.chat.arrivals.rate']:.6g}" in cells
        assert f"{row['throughput_rps']:.6g}" in cells and f"{row['tpot_p99_s']:.6g}" in cells
        assert f"{row['queue_p90_s']:.6g}" in cells  # a column only the folded full table has
    assert set(found.specs()) == {"latency", "frontier", "goodput_cost"}
    assert found.pres == [(files / "sweep.infera").read_text()]
    assert "6 rows of 3 sweep points" in text


def test_the_same_inputs_give_the_same_bytes(files, run_page, tmp_path):
    again = infera.report(files / "run.infera", tmp_path / "again.html")
    assert again.read_bytes() == run_page.read_bytes()


def test_results_in_memory_with_and_without_their_source(files, tmp_path):
    results = infera.run(files / "run.infera")
    bare = infera.report(results, tmp_path / "bare.html", title="Two systems").read_text(encoding="utf-8")
    assert "<title>Two systems</title>" in bare and "not given (pass source=)" in bare
    assert Elements(bare).pres == []
    assert "<td>split</td><td>11</td>" in bare  # the seeds come from the plan
    sourced = infera.report(results, tmp_path / "sourced.html", source=files / "run.infera")
    assert Elements(sourced.read_text(encoding="utf-8")).pres == [(files / "run.infera").read_text()]


def test_a_results_folder_and_a_sweep_frame(files, tmp_path):
    results = infera.run(files / "run.infera")
    results.write_parquet(tmp_path / "out")
    text = infera.report(tmp_path / "out", tmp_path / "folder.html", source=files / "run.infera").read_text()
    assert 'id="summary"' in text and 'id="pools"' in text
    assert "<td>mixed</td><td>11</td>" in text  # a folder has no seeds: they come from the source file
    assert set(Elements(text).specs()) == set(P.KINDS)
    frame = infera.sweep(files / "sweep.infera", backend="serial", progress=False)
    swept = infera.report(frame, tmp_path / "frame.html").read_text()
    assert 'id="sweep"' in swept and set(Elements(swept).specs()) == {"latency", "frontier", "goodput_cost"}


def test_bad_inputs_are_clear_errors(files, tmp_path):
    with pytest.raises(P.PlotError, match="expected infera.Results, a Polars DataFrame or a path, got int"):
        infera.report(42, tmp_path / "x.html")  # type: ignore[arg-type]
    with pytest.raises(infera.FileError, match="not found"):
        infera.report(tmp_path / "missing.infera", tmp_path / "x.html")
    results = infera.run(files / "run.infera")
    with pytest.raises(infera.FileError, match="not found"):
        infera.report(results, tmp_path / "x.html", source=tmp_path / "nope.infera")
    (tmp_path / "file").write_text("")
    with pytest.raises(infera.FileError, match="cannot write the report"):
        infera.report(results, tmp_path / "file" / "x.html")
    (tmp_path / "bad.infera").write_text("run r {\n  model = \n}\n")
    with pytest.raises(infera.InferaSyntaxError, match="bad.infera:3"):
        infera.report(tmp_path / "bad.infera", tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()
