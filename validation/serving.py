"""Serving validation: every measured row of both development sets beside what infera predicts for it.

    python validation/serving.py                       # all rows; rewrites docs/validation-serving.md + figures
    python validation/serving.py --set inferencex --limit 200 --jobs 2    # a quick look (page left alone)

Each row (``validation/serving/aiconfigurator``, ``validation/serving/inferencex``) becomes the infera system it
ran — catalog model and chip, precision, parallelism, one pool of workers or prefill and decode pools with the
KV link, closed-loop users with the benchmark client's lengths and request count — simulated with infera's
default cost model; rows it cannot express are counted by reason. ``validation/serving/serving_rows.py`` holds
the mapping, ``serving_run.py`` the simulation and the clients' metrics, ``serving_report.py`` the page.
Nothing is cached between runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "validation" / "serving"))

import serving_report  # noqa: E402
from serving_rows import read_rows  # noqa: E402
from serving_run import simulate_rows  # noqa: E402

PAGE = ROOT / "docs" / "validation-serving.md"
FIGURES = ROOT / "docs" / "figures"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", choices=("all", "aiconfigurator", "inferencex"), default="all")
    ap.add_argument("--limit", type=int, default=None, help="only the first N rows of the selection")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: every core)")
    ap.add_argument("--csv", type=Path, default=None, help="also write every simulated row to this CSV")
    args = ap.parse_args(argv)

    rows = read_rows(args.set)
    if args.limit is not None:
        rows = rows[: args.limit]
    print(f"{len(rows)} rows, {sum(r.deployment is not None for r in rows)} expressible", file=sys.stderr)
    outcomes = simulate_rows(rows, args.jobs)
    if args.csv is not None:
        serving_report.write_rows(outcomes, args.csv)
    full = args.set == "all" and args.limit is None
    figures = []
    if full:
        FIGURES.mkdir(exist_ok=True)
        figures = serving_report.figures(outcomes, FIGURES)
    body = serving_report.markdown(outcomes, figures)
    if full:
        serving_report.write_page(PAGE, body)
        print(f"wrote {PAGE.relative_to(ROOT)} and {len(figures)} figures", file=sys.stderr)
    else:
        print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
