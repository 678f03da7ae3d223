"""Regenerates the read_ipc seed corpus: every example compiled to a plan file, cut to a few requests.

Each `examples/*.infera` is compiled by infera's compiler and saved as the Arrow IPC file `infera compile`
writes, keeping the first requests of each workload so a seed is a few kilobytes and small enough for the
target to simulate; a closed-loop variant of the quickstart adds the arrival process no example uses.
Run from the repository root with infera importable:

    python rust/core/fuzz/make_corpus.py
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

import infera
from infera.plan import Plan

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "rust" / "core" / "fuzz" / "corpus" / "read_ipc"
#: Requests kept per workload.
REQUESTS = 6


def cut(plan: Plan) -> Plan:
    """The plan with only the first `REQUESTS` requests of each workload."""
    requests = plan.tables["requests"]
    workload = requests.column("workload").to_pylist()
    seen: dict[int, int] = {}
    keep = []
    for w in workload:
        seen[w] = seen.get(w, 0) + 1
        keep.append(seen[w] <= REQUESTS)
    return Plan({**plan.tables, "requests": requests.filter(pa.array(keep))})


def closed_loop(plan: Plan) -> Plan:
    """The plan with every workload a closed loop of two users (requests carry no arrival times)."""
    workloads = plan.tables["workloads"]
    n = workloads.num_rows
    plan = plan.with_column("workloads", "kind", ["closed"] * n).with_column("workloads", "users", [2] * n)
    requests = plan.tables["requests"]
    return plan.with_column("requests", "arrival_s", pc.cast(pa.nulls(requests.num_rows), pa.float64()))


def main() -> None:
    CORPUS.mkdir(parents=True, exist_ok=True)
    for old in CORPUS.glob("*.arrow"):
        old.unlink()
    for source in sorted((ROOT / "examples").glob("*.infera")):
        plan = cut(infera.compile_file(source))
        plan.save(CORPUS / f"{source.stem}.arrow")
        if source.stem == "quickstart":
            closed_loop(plan).save(CORPUS / "quickstart_closed.arrow")
    for seed in sorted(CORPUS.glob("*.arrow")):
        infera.check(Plan.load(seed))
        print(f"{seed.relative_to(ROOT)}: {seed.stat().st_size} bytes")


if __name__ == "__main__":
    main()
