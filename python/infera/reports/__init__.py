"""One self-contained HTML page of a simulation or a sweep: its summary tables, its figures and the inputs
that made them (the ``.infera`` text, the seeds, infera's version). Nothing on the page is fetched when it
opens: the Vega JavaScript and every chart's data are inlined.

>>> import infera
>>> infera.report("examples/sweep_rate.infera", "sweep.html")          # doctest: +SKIP
>>> results = infera.run("examples/disaggregation.infera")             # doctest: +SKIP
>>> infera.report(results, "run.html", source="examples/disaggregation.infera")   # doctest: +SKIP

The package is ``reports`` so that ``infera.report`` stays the function (as ``infera.sweep`` beside
``infera.sweeps``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from infera.exceptions import FileError
from infera.files import describe, input_path
from infera.plot import Frames, PlotError, altair, load
from infera.plot._common import vl_convert
from infera.reports.page import Page, render
from infera.results import Results

__all__ = ["report", "require"]


def report(results_or_path: Results | pl.DataFrame | str | Path, path: str | Path, *,
           source: str | Path | None = None, title: str | None = None, **simulate: Any) -> Path:
    """Writes one HTML page about ``results_or_path`` to ``path`` and returns the path written.

    ``results_or_path`` is one of:

    - a ``.infera`` file: it is simulated, and its text is shown on the page. A file with sweeps runs
      them (``simulate`` passes :func:`infera.sweep`'s options, such as ``backend="serial"``), else its
      runs (``simulate`` passes :func:`infera.simulate`'s, such as ``requests=False``);
    - a :class:`~infera.Results` of :func:`infera.run` or :func:`infera.simulate`;
    - a sweep frame of :func:`infera.sweep` (or a summary frame);
    - a folder written by ``infera run --out`` (its ``sweep``, ``summary``, ``pools``, ``requests``,
      ``iterations`` and ``instances`` Parquet files, those present), or one such Parquet file.

    ``source`` names the ``.infera`` file that produced results given in memory or on disk, so that its
    text and its runs' seeds go on the page too (a ``.infera`` input is its own source). ``title`` heads
    the page (default: the source's file name, else "infera report").

    The page holds: the summary (one column per run and system, one row per metric) and the per-pool table
    of a simulation, or a sweep's frame (its axes and headline metrics, and every column in a folded
    table); every figure the frames support (:mod:`infera.plot`: latency, frontier, goodput against cost
    when priced, utilisation and a request's timeline for a simulation with per-step and per-request rows),
    interactive; and the inputs: infera's version, each run's seed and the source text. It opens offline
    in a browser: the Vega libraries are inlined, so the page is about 1 MB. The same inputs give the same
    bytes (no timestamp). Needs the plotting extra, ``pip install 'infera[plot]'`` (a
    :class:`~infera.plot.PlotError` otherwise); a page that cannot be written is a
    :class:`~infera.exceptions.FileError`.
    """
    require()
    source_path = input_path(source) if source is not None else None
    page = _gather(results_or_path, source_path, simulate)
    if title is not None:
        page.title = title
    out = Path(path)
    text = render(page)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise FileError(out, f"cannot write the report: {describe(exc)}") from None
    return out


def require() -> None:
    """A :class:`~infera.plot.PlotError` saying ``pip install 'infera[plot]'`` when Altair or vl-convert is
    missing, so that it comes before anything is simulated rather than after."""
    altair()
    vl_convert()


def _gather(what: Any, source: Path | None, simulate: dict[str, Any]) -> Page:
    if isinstance(what, Results):
        page = _of_results(what)
    elif isinstance(what, pl.DataFrame):
        page = Page(frames=Frames(summary=what))
    elif isinstance(what, (str, Path)):
        given = Path(what)
        if given.is_dir() or given.suffix == ".parquet":
            page = _of_saved(given)
        else:
            return _of_file(input_path(given), simulate)
    else:
        raise PlotError(f"report: expected infera.Results, a Polars DataFrame or a path, got {type(what).__name__}")
    if source is not None:
        _add_source(page, source, seeds=not page.seeds.height)
    return page


def _of_results(results: Results) -> Page:
    return Page(frames=Frames(summary=results.summary, requests=results.requests, iterations=results.iterations,
                              instances=results.instances),
                pools=results.pools, seeds=_plan_seeds(results))


def _plan_seeds(results: Results) -> pl.DataFrame:
    runs = results.plan["runs"].select(["name", "system", "seed"]).to_pylist()
    return pl.DataFrame({"run": [r["name"] for r in runs], "system": [r["system"] for r in runs],
                         "seed": [r["seed"] for r in runs]}, schema=_SEEDS)


def _of_saved(path: Path) -> Page:
    pools = path / "pools.parquet" if path.is_dir() else None
    page = Page(frames=load(path), name=str(path))
    if pools is not None and pools.is_file():
        page.pools = pl.read_parquet(pools)
    return page


def _of_file(path: Path, simulate: dict[str, Any]) -> Page:
    from infera.api import simulate as run_plan
    from infera.dsl import parse_file
    from infera.dsl.ast import SweepBlock
    from infera.plan.compiler import compile_program

    program = parse_file(path)
    if any(isinstance(b, SweepBlock) for b in program.blocks):
        from infera.sweeps import sweep

        page = Page(frames=Frames(summary=sweep(program, progress=False, **simulate)))
    else:
        page = _of_results(run_plan(compile_program(program), **simulate))
    _add_source(page, path, seeds=not page.seeds.height)
    return page


def _add_source(page: Page, path: Path, *, seeds: bool) -> None:
    """The source's name and text, and (when the results carried none) its runs' seeds."""
    try:
        page.text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileError(path, f"cannot read the source: {describe(exc)}") from None
    page.name = str(path)
    if seeds:
        from infera.dsl import parse
        from infera.plan.compiler import run_specs

        runs, _ = run_specs(parse(page.text, file=str(path)))
        rows = [(r.name, system, r.seed) for r in runs for system, _ in r.systems]
        page.seeds = pl.DataFrame(rows, schema=_SEEDS, orient="row")


_SEEDS = {"run": pl.String, "system": pl.String, "seed": pl.UInt64}
