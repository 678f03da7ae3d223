"""Sweep blocks: the points a grid or a zip makes, every kind of path, and located errors."""

from __future__ import annotations

import pytest

import infera
from infera.plan.compiler import sweep_specs

from conftest import program


def _sweep(text: str, **kw):
    return infera.sweep(program(text), backend="serial", progress=False, **kw)


def test_grid_has_every_point_and_a_column_per_axis() -> None:
    frame = _sweep("""sweep g {
      traffic.t.arrivals.rate = [10 /s, 20 /s, 40 /s]
      system.one.pool.gp.chips = [1, 2]
    }""")
    # 3 x 2 points, each simulated for both systems of the run.
    assert frame.height == 12
    assert frame["point"].unique().sort().to_list() == list(range(6))
    assert {"traffic.t.arrivals.rate", "system.one.pool.gp.chips", "throughput_rps", "ttft_p99_s",
            "error"} <= set(frame.columns)
    pts = frame.filter(frame["system"] == "one").select("traffic.t.arrivals.rate", "system.one.pool.gp.chips")
    assert pts.rows() == [(10.0, 1), (10.0, 2), (20.0, 1), (20.0, 2), (40.0, 1), (40.0, 2)]
    # The swept chip count reached the plan: system one has that many chips, system two keeps its 2.
    one = frame.filter(frame["system"] == "one")
    assert one["chips"].to_list() == one["system.one.pool.gp.chips"].to_list()
    assert set(frame.filter(frame["system"] == "two")["chips"]) == {2}
    assert frame["error"].null_count() == frame.height


def test_zip_pairs_values_in_order() -> None:
    frame = _sweep("""sweep z {
      mode = zip
      traffic.t.requests = [100, 150, 250]
      run.r.seed = [5, 6, 7]
    }""").filter(pl_system("one"))
    assert frame.select("traffic.t.requests", "run.r.seed").rows() == [(100, 5), (150, 6), (250, 7)]
    assert frame["requests"].to_list() == [100, 150, 250]


def pl_system(name: str):
    import polars as pl

    return pl.col("system") == name


def test_rate_changes_throughput_and_seed_changes_the_draw() -> None:
    frame = _sweep("sweep s { traffic.t.arrivals.rate = [5 /s, 80 /s] }").filter(pl_system("one"))
    slow, fast = frame["throughput_rps"].to_list()
    assert fast > 4 * slow


def test_range_and_geometric_spacing() -> None:
    specs = sweep_specs(infera.parse(program("""sweep s {
      traffic.t.arrivals.rate = range(0.1 /s, 0.5 /s, step = 0.1 /s)
      traffic.t.requests = range(100, 400, count = 4)
      chip.toy.memory_bandwidth = geometric(1 TB/s, 8 TB/s, count = 4)
    }""")))
    rate, req, bw = specs[0].axes
    assert [q.value for q in rate.values] == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert [q.value for q in req.values] == [100, 200, 300, 400] and all(q.is_integer for q in req.values)
    assert [q.value for q in bw.values] == pytest.approx([1e12, 2e12, 4e12, 8e12])
    assert len(specs[0].points()) == 5 * 4 * 4


def test_chip_model_slo_and_pool_paths_reach_the_results() -> None:
    frame = _sweep("""sweep s {
      mode = zip
      chip.toy.memory_bandwidth = [0.5 TB/s, 4 TB/s]
      slo.fast.tpot.p99 = [0.2 ms, 1 s]
      system.two.pool.gp.chip = [toy, toy2]
      model.tiny.layers = [2, 3]
    }""")
    one = frame.filter(pl_system("one"))
    # Slower memory is slower; a TPOT target under the step time fails every request, a loose one none.
    assert one["tpot_p99_s"][0] > one["tpot_p99_s"][1]
    assert one["slo_attainment"].to_list() == [0.0, 1.0]
    assert frame["system.two.pool.gp.chip"].to_list() == ["toy", "toy", "toy2", "toy2"]


def test_an_inherited_field_of_an_extending_block_can_be_swept() -> None:
    frame = _sweep("""sweep s {
      system.two.pool.gp.chip = [toy2]
      chip.toy2.power = [300 W, 600 W]
    }""").filter(pl_system("two"))
    low, high = frame["energy_j"].to_list()
    assert high > low


def test_a_point_that_cannot_compile_is_a_row_with_its_error() -> None:
    frame = _sweep("sweep s { system.one.pool.gp.tp = [1, 3] }").filter(pl_system("one"))
    assert frame["error"][0] is None
    assert "tp" in frame["error"][1] and frame["throughput_rps"][1] is None


def test_identical_points_are_simulated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from infera.sweeps import points

    calls = []
    real = points.run_point
    monkeypatch.setattr("infera.sweeps.backends.run_point", lambda p, t: calls.append(t) or real(p, t))
    frame = _sweep("sweep s { traffic.t.arrivals.rate = [10 /s, 20 /s, 10 /s] }")
    assert len(calls) == 2
    rows = frame.filter(pl_system("one")).sort("point")
    assert rows["point"].to_list() == [0, 1, 2]
    assert rows["throughput_rps"][0] == rows["throughput_rps"][2]


def test_python_axes_describe_a_sweep_without_a_sweep_block() -> None:
    frame = infera.sweep(program(""), axes={"traffic.t.arrivals.rate": ["10 /s", "20 /s"], "run.r.seed": [3]},
                         backend="serial", progress=False)
    assert frame.filter(pl_system("one"))["traffic.t.arrivals.rate"].to_list() == [10.0, 20.0]
    assert set(frame["run.r.seed"]) == {3}


@pytest.mark.parametrize(("axis", "named"), [
    ("traffic.nope.requests = [1]", "no traffic 'nope'"),
    ("widget.t.requests = [1]", "unknown block kind 'widget'"),
    ("system.one.pool.zz.tp = [1]", "pools: gp"),
    ("slo.fast.ttft.p50 = [1 s]", "targets: ttft.p99, tpot.p99"),
    ("traffic.t = [1]", "write kind.block.field"),
    ("traffic.t.arrivals.burst = [1]", "poisson() has no argument 'burst'"),
])
def test_a_bad_path_is_located_and_named(axis: str, named: str) -> None:
    text = program("sweep s {\n  " + axis + "\n}")
    with pytest.raises(infera.CompileError) as err:
        infera.compile_text(text, file="w.infera")
    line = text.count("\n", 0, text.index(axis)) + 1
    path = axis.split(" =")[0]
    assert str(err.value).startswith(f"w.infera:{line}:3: error: sweep path '{path}'")
    assert named in str(err.value)


@pytest.mark.parametrize(("body", "message"), [
    ("mode = zip\n traffic.t.requests = [1, 2]\n run.r.seed = [1]", "zipped axes need as many values each"),
    ("run = nope\n traffic.t.requests = [1]", "unknown run 'nope'"),
    ("mode = stacked\n traffic.t.requests = [1]", "must be one of grid, zip"),
    ("traffic.t.requests = []", "an empty list has no points"),
    ("traffic.t.requests = range(1, 5)", "write range(from, to, step = s)"),
    ("traffic.t.arrivals.rate = range(1 /s, 5 s, step = 1 /s)", "two numbers of the same unit"),
    # Found by the mutation fuzzer: a subnormal step overflowed the point count to infinity (OverflowError).
    ("traffic.t.arrivals.rate = range(10 /s, 60 /s, step = 1e-320 /s)", "gives more than 1,000,000 values"),
    ("", "no axes"),
    ("traffic.t.requests = [1]\n traffic.t.requests = [2]", "swept twice"),
])
def test_bad_sweep_blocks_are_located_errors(body: str, message: str) -> None:
    with pytest.raises(infera.CompileError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        infera.compile_text(program("sweep s {\n " + body + "\n}"), file="w.infera")
    assert str(err.value).startswith("w.infera:")


def test_an_axis_outside_a_sweep_is_rejected_where_it_stands() -> None:
    with pytest.raises(infera.CompileError, match="not allowed here") as err:
        infera.compile_text(program("").replace("requests = 200", "requests = 200, traffic.t.x = 1"),
                            file="w.infera")
    assert str(err.value).startswith("w.infera:")


def test_the_plan_of_a_file_with_a_sweep_is_its_runs_as_written() -> None:
    plain = infera.compile_text(program(""))
    swept = infera.compile_text(program("sweep s { traffic.t.requests = [10, 20] }"))
    assert swept.to_batch().equals(plain.to_batch())
