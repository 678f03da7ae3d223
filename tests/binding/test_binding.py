"""The binding (``infera._core``): its stub matches the module, its exceptions are the ones infera raises,
results cross as one-shot Arrow C streams, and the compiler reads the core's names instead of copying them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

import infera
import infera.exceptions
from infera import _core
from infera.plan import Plan
from helpers import program

SMALL = program("""
traffic t { arrivals = poisson(20 /s), prompt = 200 tokens, output = 20 tokens, requests = 50 }
system s { pool p: 2 x toy }
run r { model = tiny, traffic = t, system = s, seed = 3 }
""")


@pytest.fixture(scope="module")
def plan() -> Plan:
    return infera.compile_text(SMALL)


def test_the_stub_matches_the_module(tmp_path: Path) -> None:
    # stubtest imports the built module and compares every name, signature and class with the stub, both ways.
    package_root = str(Path(infera.__file__).resolve().parent.parent)
    env = {**os.environ, "MYPYPATH": package_root,
           "PYTHONPATH": os.pathsep.join([package_root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-m", "mypy.stubtest", "infera._core"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_stub_and_its_marker_ship_in_the_package() -> None:
    package = Path(infera.__file__).resolve().parent
    assert (package / "_core.pyi").is_file()
    assert (package / "py.typed").is_file()


def test_every_function_and_class_of_the_binding_is_documented() -> None:
    for name in _core.__all__:
        obj = getattr(_core, name)
        if callable(obj):
            assert (obj.__doc__ or "").strip(), name
    assert (_core.ArrowStream.__arrow_c_stream__.__doc__ or "").strip()


# ----------------------------------------------------------------------------------------------------------
# Exceptions


def test_exceptions_are_the_bindings_classes() -> None:
    for name in ("InferaError", "PlanError", "SimulationError"):
        cls = getattr(infera.exceptions, name)
        assert cls is getattr(_core, name) is getattr(infera, name)
        assert cls.__module__ == "infera._core"
    assert issubclass(_core.PlanError, _core.InferaError)
    assert issubclass(_core.SimulationError, _core.InferaError)
    assert issubclass(_core.InferaError, Exception)
    # The compiler's own errors live in Python, beneath the binding's base.
    assert issubclass(infera.CompileError, _core.InferaError)
    assert issubclass(infera.InferaSyntaxError, _core.InferaError)


def _broken(plan: Plan) -> pa.RecordBatch:
    pools = plan["pools"].set_column(plan["pools"].schema.get_field_index("chip"), "chip",
                                     pa.array([99], pa.uint32()))
    return Plan({**plan.tables, "pools": pools}).to_batch()


def test_a_plan_error_from_the_core_says_where_and_why(plan: Plan) -> None:
    with pytest.raises(_core.PlanError) as info:
        _core.validate_plan(_broken(plan))
    err = info.value
    assert type(err) is _core.PlanError
    assert "pools.chip" in str(err) and "does not exist" in str(err)
    assert isinstance(err.reason, str) and err.reason in str(err)
    # Where the core knows it, the error names the table, the column and the row.
    assert err.table in (None, "pools")
    assert err.column in (None, "chip")
    assert err.row in (None, 0)


def test_plan_errors_raised_from_python_have_the_same_attributes() -> None:
    err = _core.PlanError("plan lacks tables: chips")
    assert str(err) == "plan lacks tables: chips"
    assert (err.table, err.column, err.row, err.reason) == (None, None, None, None)


def test_an_unreadable_plan_file_is_a_plan_error_with_its_reason(tmp_path: Path) -> None:
    with pytest.raises(_core.PlanError) as info:
        _core.simulate_file(str(tmp_path / "missing.arrow"))
    assert info.value.reason == str(info.value)
    assert str(info.value).startswith("cannot read plan: ")
    assert info.value.table is None


def test_the_binding_raises_its_classes_without_looking_them_up(plan: Plan,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # The Rust side used to import infera.exceptions and fetch the class by name; with that module made
    # unimportable the binding still raises its own class.
    monkeypatch.setitem(sys.modules, "infera.exceptions", None)
    with pytest.raises(_core.PlanError):
        _core.simulate(_broken(plan))


# ----------------------------------------------------------------------------------------------------------
# Results as Arrow C streams


def test_results_are_one_shot_arrow_streams(plan: Plan) -> None:
    streams = _core.simulate(plan.to_batch())
    assert len(streams) == 5 and all(type(s) is _core.ArrowStream for s in streams)
    requests = streams[0]
    assert "rows" in repr(requests)
    frame = pl.DataFrame(requests)
    assert frame.height == 50
    # The table moved into the first consumer; nothing is left to hand out a second time.
    assert repr(requests) == "ArrowStream(consumed)"
    with pytest.raises(ValueError, match="already been consumed"):
        requests.__arrow_c_stream__()


def test_polars_frames_from_streams_equal_the_pyarrow_route(plan: Plan) -> None:
    direct = [pl.DataFrame(s) for s in _core.simulate(plan.to_batch())]
    through_pyarrow = [pl.from_arrow(pa.table(s)) for s in _core.simulate(plan.to_batch())]
    for a, b in zip(direct, through_pyarrow):
        assert a.schema == b.schema
        assert a.equals(b)
    res = infera.simulate(plan)
    assert res.requests.equals(direct[0]) and res.iterations.equals(direct[1])
    assert res.instances.equals(direct[2]) and res.stats.equals(direct[3])


def test_streams_without_rows_keep_their_schema(plan: Plan) -> None:
    _, iterations, _, _, _ = _core.simulate(plan.to_batch(), iterations=False)
    frame = pl.DataFrame(iterations)
    assert frame.height == 0 and "duration_s" in frame.columns


# ----------------------------------------------------------------------------------------------------------
# Names and constants: defined once in the core, read by the compiler


def test_the_vocabulary_is_consistent() -> None:
    assert _core.PLAN_VERSION == infera.plan.PLAN_VERSION
    assert set(_core.PRECISION_FALLBACKS) == set(_core.PRECISIONS)
    for dtype, order in _core.PRECISION_FALLBACKS.items():
        assert order[0] == dtype and set(order) <= set(_core.PRECISIONS)
    assert set(_core.OPERATOR_ENGINES) >= {"tensor", "vector", "collective", "alltoall", "p2p"}


def test_the_compiler_reads_the_cores_names() -> None:
    from infera.plan import hardware, model, specs

    assert specs.DTYPES is _core.PRECISIONS
    assert set(model.DTYPE_BYTES) == set(_core.PRECISIONS)
    assert hardware.FALLBACKS is _core.PRECISION_FALLBACKS
    assert specs.POLICIES is _core.POLICIES
    assert specs.ROLES is _core.ROLES
    assert specs.METRICS is _core.METRICS
    assert specs.MAX_INSTANCES == _core.MAX_INSTANCES
    assert set(specs.ROUTERS.values()) == set(_core.ROUTERS)
    assert {k: v for k, v in specs.ROUTERS.items() if k != v} == {"least_loaded": "least_tokens"}


@pytest.mark.parametrize("router", _core.ROUTERS)
@pytest.mark.parametrize("policy", _core.POLICIES)
def test_every_router_and_policy_of_the_core_compiles_and_runs(router: str, policy: str) -> None:
    text = program(f"""
traffic t {{ arrivals = poisson(20 /s), prompt = 64 tokens, output = 4 tokens, requests = 8 }}
system s {{ pool p: 2 x toy, policy = {policy}
  router = {router} }}
run r {{ model = tiny, traffic = t, system = s }}
""")
    assert infera.simulate(infera.compile_text(text)).summary["requests"].item() == 8
