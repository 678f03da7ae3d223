"""Fuzz target: saved plan files through ``infera.Plan.load``, ``infera.check`` and (small ones) ``simulate``.

An input is the bytes of an Arrow IPC file. Plans with more than 200 requests, 64 instances or 100,000
tokens in all are checked but not simulated.

Contract: only ``PlanError`` comes out (a file that is no plan, arrays that claim more than they hold, a plan
the core rejects), or ``SimulationError`` from a plan the core accepted but cannot run; never a crash.

    python fuzz/run.py plan --seconds 30
    mkdir -p fuzz/work/plan
    python fuzz/python/plan.py -max_total_time=30 -timeout=20 fuzz/work/plan fuzz/corpus/plan
"""

import harness
import infera

PLAN = harness.SCRATCH / "plan.arrow"


def test_one_input(data: bytes) -> None:
    PLAN.write_bytes(data)
    try:
        plan = infera.Plan.load(PLAN)
        infera.check(plan)
        if harness.small(plan):
            infera.simulate(plan).summary
    except (infera.PlanError, infera.SimulationError) as err:
        str(err)


if __name__ == "__main__":
    harness.main(test_one_input)
