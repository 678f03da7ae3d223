"""The plan's class columns as the core reads them: a bad `requests.class` or `slos.class` is a located
PlanError, and a plan whose classes all have one priority simulates exactly as without classes."""

from __future__ import annotations

import pyarrow as pa
import pytest

import infera
from helpers import program
from infera.plan.tables import Plan

MIX = """
traffic t {
  arrivals = poisson(50 /s), requests = 200, prompt = 256 tokens, output = 8 tokens
  class a { weight = 1, slo = fast }
  class b { weight = 1 }
}
traffic u { arrivals = poisson(50 /s), requests = 200, prompt = 256 tokens, output = 8 tokens }
slo fast { ttft < 50 ms }
system s { pool gp: 1 x toy { max_batch = 4 } }
run r { model = tiny, traffic = t, system = s }
run q { model = tiny, traffic = u, system = s }
"""


def plan() -> Plan:
    return infera.compile_text(program(MIX))


def with_values(p: Plan, table: str, column: str, values: list) -> Plan:  # noqa: ANN001
    return p.with_column(table, column, values)


def test_a_request_of_a_classless_workload_may_not_have_a_class() -> None:
    p = plan()
    cls = p["requests"].column("class").to_pylist()
    assert cls[:200].count(None) == 0 and cls[200:] == [None] * 200
    cls[250] = 0
    with pytest.raises(infera.PlanError) as info:
        infera.check(with_values(p, "requests", "class", cls))
    assert (info.value.table, info.value.column, info.value.row) == ("requests", "class", 250)


def test_a_request_of_a_workload_with_classes_needs_one() -> None:
    p = plan()
    cls = p["requests"].column("class").to_pylist()
    cls[3] = None
    with pytest.raises(infera.PlanError) as info:
        infera.check(with_values(p, "requests", "class", cls))
    assert (info.value.column, info.value.row) == ("class", 3)


def test_a_class_row_that_does_not_exist_is_located() -> None:
    p = plan()
    cls = p["requests"].column("class").to_pylist()
    cls[7] = 9
    with pytest.raises(infera.PlanError) as info:
        infera.check(with_values(p, "requests", "class", cls))
    assert (info.value.column, info.value.row) == ("class", 7) and "does not exist" in str(info.value)


def test_an_slo_for_a_class_of_another_run_is_located() -> None:
    p = plan()
    slos = p["slos"]
    assert slos.column("class").to_pylist() == [0]
    moved = pa.table({**{c: slos.column(c) for c in slos.column_names}, "run": pa.array([1], pa.uint32())})
    with pytest.raises(infera.PlanError) as info:
        infera.check(Plan({**p.tables, "slos": moved.cast(slos.schema)}))
    assert (info.value.table, info.value.column, info.value.row) == ("slos", "class", 0)


def test_one_priority_schedules_exactly_as_no_classes() -> None:
    """The same requests with and without their class columns: the timings are bit-identical."""
    p = plan()
    res = infera.simulate(p)
    bare_tables = {k: v for k, v in p.tables.items() if k != "classes"}
    bare_tables["requests"] = p["requests"].drop_columns(["class"])
    bare_tables["slos"] = p["slos"].drop_columns(["class"]).slice(0, 0)
    bare = infera.simulate(Plan(bare_tables))
    cols = ["request_id", "arrival_s", "first_scheduled_s", "first_token_s", "finish_s"]
    assert res.requests.select(cols).equals(bare.requests.select(cols))
