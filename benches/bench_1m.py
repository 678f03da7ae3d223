"""The issue-10 speed workload: 1M chat requests on 16 mixed H100 instances, simulated 3 times with every
output kept and 3 times summary-only; prints the best and median wall-clock seconds of each
(benches/RESULTS.md). Run: ``PYTHONPATH=python python benches/bench_1m.py``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import infera

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workloads import mixed  # noqa: E402


def best_and_median(run: Callable[[], object], rounds: int = 3) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[0], times[len(times) // 2]


def main() -> None:
    plan = infera.compile_text(mixed(1_000_000))
    print("every output kept: best %.2f s, median %.2f s" % best_and_median(lambda: infera.simulate(plan).summary))
    summary_only = lambda: infera.simulate(plan, requests=False, iterations=False, token_stats=False).summary  # noqa: E731
    print("summary only: best %.2f s, median %.2f s" % best_and_median(summary_only))


if __name__ == "__main__":
    main()
