"""Scale checks (issue "Robustness", item 5): run in a subprocess each, report wall time and peak memory.

    python benches/scale.py requests 10000000     # a 10M-request run, summary only (record = [])
    python benches/scale.py instances 10000       # a 10,000-instance pool

Prints one line: what, wall seconds, peak RSS in MiB. `benches/RESULTS.md` records the figures.
"""

from __future__ import annotations

import resource
import sys
import time

import infera

HEADER = "use chips.h100_sxm, models.llama3_1_8b\n"


def requests_case(n: int) -> str:
    # 16 instances at ~80% load; only per-run statistics are kept (record = []).
    return HEADER + f"""
traffic chat {{ arrivals = poisson(250 /s), prompt = lognormal(median = 700 tokens, sigma = 0.8, max = 8192)
               output = lognormal(median = 250 tokens, sigma = 0.8, max = 2048), requests = {n} }}
system s {{ pool gp: 16 x h100_sxm, max_batch = 256, max_batched_tokens = 2048
           router = least_tokens }}
run r {{ model = llama3_1_8b, traffic = chat, system = s, seed = 1, record = [] }}
"""


def instances_case(n: int) -> str:
    # n instances fed at ~80% of their capacity (15.6 req/s each) for long enough to send ~1.5M requests.
    rate = 15.6 * n
    duration = 1.0e5 / n
    return HEADER + f"""
traffic chat {{ arrivals = poisson({rate} /s), prompt = lognormal(median = 700 tokens, sigma = 0.8, max = 8192)
               output = lognormal(median = 250 tokens, sigma = 0.8, max = 2048), duration = {duration} s }}
system s {{ pool gp: {n} x h100_sxm, max_batch = 256, max_batched_tokens = 2048
           router = least_tokens }}
run r {{ model = llama3_1_8b, traffic = chat, system = s, seed = 1, record = [] }}
"""


def main() -> None:
    what, n = sys.argv[1], int(sys.argv[2])
    text = requests_case(n) if what == "requests" else instances_case(n)
    t0 = time.perf_counter()
    plan = infera.compile_text(text)
    t1 = time.perf_counter()
    res = infera.simulate(plan)
    s = res.summary.row(0, named=True)
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{what}={n}: compile {t1 - t0:.2f} s, simulate+summary {t2 - t1:.2f} s, peak RSS {peak:.0f} MiB, "
          f"requests {s['requests']}, throughput {s['throughput_rps']:.1f}/s, ttft p99 {s['ttft_p99_s']:.3f} s")


if __name__ == "__main__":
    main()
