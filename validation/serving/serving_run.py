"""Simulate the expressible rows and compute infera's metrics the way the benchmark clients do.

Both clients (vLLM's ``benchmark_serving.py`` as InferenceX runs it, and aiperf) define a request's TPOT as
``(e2e - ttft) / (output_tokens - 1)`` and report the mean, median and 99th percentile (numpy's linear
interpolation) over the measured requests; TTFT likewise. Warm-up requests are sent before the timed run and
left out, so the simulated run starts with every user sending at time 0. infera's ``requests`` frame carries
the same per-request ``ttft_s`` and ``tpot_mean_s`` (docs/results.md).
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from dataclasses import dataclass

import numpy as np

import infera
from serving_rows import Row, program

METRICS = ("ttft_mean", "tpot_mean", "ttft_median", "tpot_median", "ttft_p99", "tpot_p99")


def client_metrics(requests) -> dict[str, float]:
    """Mean, median and p99 of TTFT and TPOT over the finished requests, as the clients compute them."""
    done = requests.filter(requests["status"] == "finished")
    out = {}
    for name, col in (("ttft", "ttft_s"), ("tpot", "tpot_mean_s")):
        v = done[col].drop_nulls().to_numpy()
        out[f"{name}_mean"] = float(np.mean(v))
        out[f"{name}_median"] = float(np.median(v))
        out[f"{name}_p99"] = float(np.percentile(v, 99))
    return out


def _simulate(text: str) -> tuple[dict[str, float] | None, str | None]:
    try:
        res = infera.simulate(infera.compile_text(text, file="<serving-row>"))
    except infera.CompileError as e:
        return None, compile_reason(str(e))
    return client_metrics(res.requests), None


def compile_reason(message: str) -> str:
    """A compile error as a reason shared by the rows it stops (the location and numbers dropped)."""
    text = message.split("error:", 1)[-1].strip()
    if "unknown field 'dp_attention'" in text:
        return "attention DP (pool field dp_attention) not accepted by this build"
    if "does not fit" in text or "memory" in text:
        return "does not fit in memory as infera sizes it"
    return "does not compile: " + text.split(":")[-1].strip()[:80]


@dataclass
class Outcome:
    row: Row
    predicted: dict[str, float] | None


def simulate_rows(rows: list[Row], jobs: int, progress: bool = True) -> list[Outcome]:
    """Simulate every expressible row, each distinct program once, over ``jobs`` processes; rows whose program
    does not compile get the compile error as their reason."""
    texts = {id(r): program(r.deployment) for r in rows if r.deployment is not None}
    distinct = sorted(set(texts.values()))
    results: dict[str, tuple[dict[str, float] | None, str | None]] = {}
    start = time.time()
    # Spawned, not forked: a fork of a process whose Polars thread pool is busy (a test suite that has run
    # other simulations) can inherit a held lock and hang.
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(max(1, jobs)) as pool:
        for i, (text, res) in enumerate(zip(distinct, pool.imap(_simulate, distinct, chunksize=4)), 1):
            results[text] = res
            if progress and (i % 50 == 0 or i == len(distinct)):
                print(f"  simulated {i}/{len(distinct)} distinct systems ({time.time() - start:.0f} s)",
                      file=sys.stderr, flush=True)
    out = []
    for r in rows:
        if r.deployment is None:
            out.append(Outcome(r, None))
            continue
        pred, reason = results[texts[id(r)]]
        r.reason = reason
        out.append(Outcome(r, pred))
    return out
