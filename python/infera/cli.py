"""The `infera` command: run (a file's runs, or its sweeps), design (its design searches), check, compile,
simulate, capacity, calibrate, catalog (list, import) and trace (what a trace file holds).

Every command prints infera's own errors (with file:line:col where they have one) without a traceback and
exits with status 2; a successful command exits 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

from infera.dsl.ast import Program, SweepBlock
from infera.exceptions import InferaError
from infera.files import output_dir, write_parquet
from infera.results import Results
from infera.class_summary import format_classes
from infera.summary import format_pools, format_table


def _print_results(results: Results) -> None:
    print(format_table(results.summary))
    pools = format_pools(results.pools)
    if pools is not None:
        print("\npools:")
        print(pools)
    classes = format_classes(results.classes)
    if classes is not None:
        print("\nclasses:")
        print(classes)


def _cmd_run(args: argparse.Namespace) -> int:
    from infera.api import simulate
    from infera.dsl import parse_file
    from infera.plan.compiler import compile_program, run_specs

    if args.plot and not args.out:
        raise InferaError("--plot writes its figures into the --out folder: give --out DIR")
    if args.plot:
        from infera.plot import altair

        altair()  # a missing plotting extra is reported before the simulation, not after it
    if args.report:
        from infera.reports import require

        require()
    program = parse_file(args.file)
    if any(isinstance(b, SweepBlock) for b in program.blocks):
        return _sweep(program, args)
    results = simulate(compile_program(program), requests=not args.no_requests,
                       iterations=not args.no_iterations, token_stats=not args.no_token_stats)
    _print_results(results)
    if args.out:
        paths = results.write_parquet(args.out)
        print(f"wrote {', '.join(str(p) for p in paths)}")
    if args.plot:
        from infera.plot import Frames

        _write_plots(args.out, Frames(summary=results.summary, requests=results.requests,
                                      iterations=results.iterations, instances=results.instances))
    if args.report:
        _write_report(results, args)
    # Runs that ask for a capacity search get one after the plain simulation.
    runs, _ = run_specs(program)
    if any(r.search is not None for r in runs):
        return _capacity(program, None, None, None, args.out)
    return 0


def _sweep(program: Program, args: argparse.Namespace) -> int:
    from infera.sweeps import SweepInterrupted, sweep
    from infera.sweeps.table import format_sweep

    progress = False if args.no_progress else None
    try:
        frame = sweep(program, backend=args.backend, workers=args.workers, out=args.out, progress=progress)
    except SweepInterrupted as stop:
        where = f"; kept in {Path(args.out) / 'sweep.parquet'}" if args.out else ""
        print(f"interrupted: {stop.done} of {stop.total} points finished{where}", file=sys.stderr)
        return 130
    print(format_sweep(frame))
    if args.out:
        print(f"wrote {Path(args.out) / 'sweep.parquet'}")
    if args.plot:
        from infera.plot import Frames

        _write_plots(args.out, Frames(summary=frame))
    if args.report:
        _write_report(frame, args)
    return 0


def _capacity(source: Path | Program, run: str | None, attainment: float | None, tolerance: float | None,
              out: str | None) -> int:
    from infera.search import max_rate

    table = max_rate(source, run=run, attainment=attainment, tolerance=tolerance)
    print("\nmax rate meeting the SLO (requests/s):")
    print(format_table(table))
    if out:
        path = write_parquet(table, output_dir(out) / "capacity.parquet")
        print(f"wrote {path}")
    return 0


def _cmd_capacity(args: argparse.Namespace) -> int:
    return _capacity(Path(args.file), args.run, args.attainment, args.tolerance, args.out)


def _cmd_design(args: argparse.Namespace) -> int:
    from infera.designs import cheapest, design, frontier
    from infera.designs.report import format_designs
    from infera.sweeps import SweepInterrupted

    progress = False if args.no_progress else None
    try:
        frame = design(Path(args.file), name=args.name, backend=args.backend, workers=args.workers, out=args.out,
                       progress=progress)
    except SweepInterrupted as stop:
        where = f"; kept in {Path(args.out) / 'design.parquet'}" if args.out else ""
        print(f"interrupted: {stop.done} of {stop.total} designs finished{where}", file=sys.stderr)
        return 130
    for name, part in frame.group_by("design", maintain_order=True):
        pruned = part.filter(~pl.col("fits")).height
        failed = part.filter(pl.col("fits") & ~pl.col("simulated")).height
        print(f"design '{name[0]}': {part.height} designs, {pruned} pruned (do not fit), "
              f"{part.height - pruned - failed} simulated" + (f", {failed} failed in simulation" if failed else ""))
    print("\nPareto frontier (throughput per chip against tokens/s per user):")
    print(format_designs(frontier(frame)))
    best = cheapest(frame)
    if best.height:
        print("\ncheapest design meeting the SLO:")
        print(format_designs(best))
    else:
        print("\nno design meets the SLO at the target rate")
    if args.out:
        print(f"wrote {Path(args.out) / 'design.parquet'}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from infera.api import check, compile_file

    plan = compile_file(args.file)
    check(plan)
    counts = plan.summary()
    print(f"{args.file}: ok ({counts['runs']} run(s), {counts['pools']} pool(s), {counts['requests']} requests)")
    return 0


def _cmd_compile(args: argparse.Namespace) -> int:
    from infera.api import check, compile_file

    plan = compile_file(args.file)
    check(plan)
    plan.save(args.output)
    print(f"wrote {args.output} ({plan!r})")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from infera.api import simulate

    results = simulate(Path(args.plan), requests=not args.no_requests, iterations=not args.no_iterations,
                       token_stats=not args.no_token_stats)
    _print_results(results)
    if args.out:
        results.write_parquet(args.out)
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from infera.calibrate import calibrate

    profile = calibrate(args.measurements, args.output)
    ops = profile.select("model", "operator", "tp").unique().height
    print(f"wrote {args.output} ({profile.height} shapes of {ops} operator(s), from "
          f"{int(profile['samples'].sum())} measurements)")
    return 0


def _cmd_catalog(args: argparse.Namespace) -> int:
    from infera.catalog import entries

    rows = [r for r in entries() if getattr(args, "section", None) in (None, r[0])]
    with pl.Config(tbl_rows=len(rows) + 1, fmt_str_lengths=100, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True):
        print(pl.DataFrame(rows, schema=["section", "name", "source"], orient="row"))
    return 0


def _cmd_catalog_import(args: argparse.Namespace) -> int:
    from infera.model_import import model_from_config

    print(model_from_config(args.config, name=args.name).text, end="")
    return 0


def _cmd_trace(args: argparse.Namespace) -> int:
    from infera.plan.traffic import load_trace
    from infera.plan.traffic.trace_summary import summarize

    window = None if args.window is None else (args.window[0], args.window[1])
    try:
        stream = load_trace(args.file, format=args.format, time_scale=args.time_scale, window=window,
                            sample=args.sample, sample_seed=args.sample_seed, requests=args.requests,
                            duration_s=args.duration, sort=args.sort)
    except ValueError as exc:
        if isinstance(exc, InferaError):
            raise
        raise InferaError(f"error: {exc}") from None
    figures = summarize(stream)
    with pl.Config(tbl_rows=len(figures) + 1, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print(pl.DataFrame({"figure": list(figures), "value": [f"{v:.6g}" for v in figures.values()]}))
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from infera.plot import load, save, write_standard

    frames = load(args.source)
    if args.kind is None:
        paths = write_standard(frames, args.output, fmt=args.format)
    else:
        options: dict = {}
        if args.kind in ("latency", "frontier", "goodput_cost") and args.by:
            options["by"] = args.by
        if args.kind in ("utilisation", "timeline"):
            options.update({k: v for k, v in (("run", args.run), ("system", args.system)) if v is not None})
        if args.kind == "timeline" and args.request is not None:
            options["request_id"] = args.request
        if args.kind == "goodput_cost" and args.cost:
            options["cost"] = args.cost
        paths = [save(frames.chart(args.kind, **options), args.output)]
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0


def _write_plots(out: str, frames) -> None:  # noqa: ANN001 - infera.plot.Frames, imported lazily
    from infera.plot import write_standard

    paths = write_standard(frames, out)
    print(f"wrote {', '.join(str(p) for p in paths)}")


def _write_report(results, args: argparse.Namespace) -> None:  # noqa: ANN001 - Results or a sweep frame
    from infera.reports import report

    print(f"wrote {report(results, args.report, source=args.file)}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="infera", description="Simulate LLM serving on described hardware.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="compile and simulate a .infera file, print the summary")
    r.add_argument("file")
    r.add_argument("--out", help="directory to write requests/iterations/instances/summary as Parquet")
    r.add_argument("--no-requests", action="store_true", help="keep no per-request rows (summary only)")
    r.add_argument("--no-iterations", action="store_true", help="do not keep the per-step table")
    r.add_argument("--no-token-stats", action="store_true", help="skip per-request TPOT percentiles")
    r.add_argument("--backend", default="local", choices=["local", "serial", "ray"],
                   help="where a sweep's points run (default: worker processes on every core)")
    r.add_argument("--workers", type=int, help="local worker processes for a sweep (default: one per core)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar for a sweep")
    r.add_argument("--plot", action="store_true",
                   help="also write the standard figures as SVG into --out (needs infera[plot])")
    r.add_argument("--report", metavar="HTML",
                   help="also write one self-contained HTML page: tables, figures and inputs (needs infera[plot])")
    r.set_defaults(func=_cmd_run)

    d = sub.add_parser("design", help="search a file's design blocks for the cheapest design meeting the SLO")
    d.add_argument("file")
    d.add_argument("--name", help="the design block to search (default: every one)")
    d.add_argument("--out", help="directory to write design.parquet (and the simulated points, sweep.parquet)")
    d.add_argument("--backend", default="local", choices=["local", "serial", "ray"],
                   help="where the designs are simulated (default: worker processes on every core)")
    d.add_argument("--workers", type=int, help="local worker processes (default: one per core)")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.set_defaults(func=_cmd_design)

    c = sub.add_parser("check", help="parse and compile without simulating")
    c.add_argument("file")
    c.set_defaults(func=_cmd_check)

    k = sub.add_parser("compile", help="compile to a plan file (Arrow IPC)")
    k.add_argument("file")
    k.add_argument("-o", "--output", required=True)
    k.set_defaults(func=_cmd_compile)

    s = sub.add_parser("simulate", help="simulate a compiled plan file")
    s.add_argument("plan")
    s.add_argument("--out")
    s.add_argument("--no-requests", action="store_true")
    s.add_argument("--no-iterations", action="store_true")
    s.add_argument("--no-token-stats", action="store_true")
    s.set_defaults(func=_cmd_simulate)

    m = sub.add_parser("capacity", help="highest Poisson rate at which each system meets its SLO")
    m.add_argument("file")
    m.add_argument("--run", help="the run to search (default: runs with search = max_rate(...), else all)")
    m.add_argument("--attainment", type=float, help="share of requests that must meet the SLO (default 0.9)")
    m.add_argument("--tolerance", type=float, help="relative width of the final bracket (default 0.02)")
    m.add_argument("--out", help="directory to write capacity.parquet")
    m.set_defaults(func=_cmd_capacity)

    cal = sub.add_parser("calibrate", help="turn raw operator timings into a chip profile (median per shape)")
    cal.add_argument("measurements", help="CSV of measurements (see docs/calibration.md)")
    cal.add_argument("-o", "--output", required=True, help="profile CSV to write (chip field: profile = \"...\")")
    cal.set_defaults(func=_cmd_calibrate)

    pl_ = sub.add_parser("plot", help="draw figures from a results folder, a Parquet table or a .infera file")
    pl_.add_argument("source", help="a folder from `infera run --out`, one of its .parquet files, or a .infera file")
    pl_.add_argument("--kind", choices=["latency", "frontier", "goodput_cost", "utilisation", "timeline"],
                     help="one figure, written to -o (default: every figure the source supports, into -o as a folder)")
    pl_.add_argument("-o", "--output", required=True,
                     help="the file (.svg, .png, .html or .json) with --kind, else the folder")
    pl_.add_argument("--format", default="svg", choices=["svg", "png", "html", "json"],
                     help="file type of the figures written without --kind (default svg)")
    pl_.add_argument("--by", nargs="+", help="columns whose values make a series (latency, frontier, goodput_cost)")
    pl_.add_argument("--cost", choices=["per_hour", "per_million_tokens"], help="goodput_cost's x axis")
    pl_.add_argument("--run", help="utilisation/timeline: only this run")
    pl_.add_argument("--system", help="utilisation/timeline: only this system")
    pl_.add_argument("--request", type=int, nargs="+", help="timeline: the request id(s) (default: the median one)")
    pl_.set_defaults(func=_cmd_plot)

    t = sub.add_parser("trace", help="read a trace file (CSV, Parquet, JSONL, Mooncake) as a program would replay "
                                     "it and print its requests, rate and length statistics")
    t.add_argument("file")
    t.add_argument("--format", choices=["csv", "parquet", "jsonl", "mooncake"], help="default: by the suffix")
    t.add_argument("--window", nargs=2, type=float, metavar=("START", "END"), help="seconds of trace time")
    t.add_argument("--sample", type=float, help="keep this fraction of the requests (after the window)")
    t.add_argument("--sample-seed", type=int, default=0)
    t.add_argument("--time-scale", type=float, default=1.0)
    t.add_argument("--duration", type=float, help="seconds of replay time")
    t.add_argument("--requests", type=int, help="keep the first N")
    t.add_argument("--sort", action="store_true", help="sort an unsorted trace instead of refusing it")
    t.set_defaults(func=_cmd_trace)

    g = sub.add_parser("catalog", help="list the built-in chips, models and traffic profiles, or import a model's "
                                       "config.json")
    g.set_defaults(func=_cmd_catalog)
    gsub = g.add_subparsers(dest="section", metavar="{chips,models,traffic,import}")
    for section in ("chips", "models", "traffic"):
        gsub.add_parser(section, help=f"list the built-in {section}").set_defaults(func=_cmd_catalog)
    gi = gsub.add_parser("import", help="print the .infera model block of a Hugging Face config.json (offline)")
    gi.add_argument("config", help="a local config.json")
    gi.add_argument("--name", help="the block's name (default: from the file's or its folder's name)")
    gi.set_defaults(func=_cmd_catalog_import)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InferaError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
