"""Benchmark: a 1,000-point sweep of 10,000-request runs on every core (issue 11's aim: a few minutes on
the 2-core machine). The quickstart's Llama-3.1-8B on four H100s, 40 arrival rates x 25 seeds.

    PYTHONPATH=python python benches/sweep_1000.py [--backend local|serial] [--workers N]

Prints the wall time, points per second and the per-point time; figures in benches/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import infera

ROOT = Path(__file__).resolve().parent.parent
SWEEP = """
sweep bench {
  traffic.chat.arrivals.rate = range(2 /s, 80 /s, step = 2 /s)
  run.quickstart.seed = range(1, 25, step = 1)
}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="local")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--requests", type=int, default=10_000)
    args = ap.parse_args()
    text = (ROOT / "examples/quickstart.infera").read_text().replace("requests = 2_000",
                                                                      f"requests = {args.requests}")
    start = time.perf_counter()
    frame = infera.sweep(text + SWEEP, backend=args.backend, workers=args.workers, progress=True)
    wall = time.perf_counter() - start
    points = frame["point"].n_unique()
    assert points == 1000 and frame["error"].null_count() == frame.height
    print(f"{points} points x {args.requests} requests, backend {args.backend}, {args.workers} workers: "
          f"{wall:.1f} s wall, {points / wall:.1f} points/s, {wall / points * 1000:.0f} ms/point, "
          f"{frame['requests'].sum() / wall:,.0f} simulated requests/s")


if __name__ == "__main__":
    main()
