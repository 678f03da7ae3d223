"""Traffic classes: weights respected, superposed streams merged by time, class fields defaulting from the
block, located errors, and in the core: priority admission, per-class SLOs and goodput, per-class results."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

import infera
from helpers import compile_error, program
from infera.dsl import parse
from infera.plan import traffic as T
from infera.plan.blocks.traffic import compile_traffic
from infera.plan.scope import Scope

RUN = """
system s { pool gp: 1 x toy }
run r { model = tiny, traffic = t, system = s }
"""


def spec(body: str) -> T.TrafficSpec:
    prog = parse(program(f"traffic t {{ {body} }}" + RUN), "t.infera")
    block = next(b for b in prog.blocks if b.name == "t" and b.kind == "traffic")
    return compile_traffic(Scope.of_program(prog), block)


WEIGHTED = """
  arrivals = poisson(10 /s), requests = 40000, prompt = 64 tokens, output = 8 tokens
  class chat { weight = 0.7 }
  class code { weight = 0.2, prompt = uniform(min = 1000, max = 2000) }
  class batch { weight = 0.1, output = 100 tokens }
"""


def test_class_weights_are_respected_and_lengths_default_from_the_block() -> None:
    s = T.sample(spec(WEIGHTED), 3)
    assert s.klass is not None and len(s.klass) == 40000
    n = len(s.klass)
    for c, w in enumerate((0.7, 0.2, 0.1)):
        share = (s.klass == c).mean()
        assert abs(share - w) < 3 * math.sqrt(w * (1 - w) / n)  # three binomial standard deviations
    chat, code, batch = (s.klass == c for c in range(3))
    assert np.all(s.prompt_tokens[chat] == 64) and np.all(s.output_tokens[chat] == 8)
    assert s.prompt_tokens[code].min() >= 1000 and np.all(s.output_tokens[code] == 8)
    assert np.all(s.prompt_tokens[batch] == 64) and np.all(s.output_tokens[batch] == 100)


def test_classes_are_seeded() -> None:
    a, b, c = (T.sample(spec(WEIGHTED), seed) for seed in (3, 3, 4))
    assert np.array_equal(a.klass, b.klass) and np.array_equal(a.prompt_tokens, b.prompt_tokens)
    assert not np.array_equal(a.klass, c.klass)


OWN = """
  requests = 3000, prompt = 64 tokens, output = 8 tokens
  class steady { arrivals = constant(2 /s) }
  class bursty { arrivals = gamma(8 /s, cv = 3), output = 16 tokens }
"""


def test_classes_with_their_own_arrivals_are_superposed_by_time() -> None:
    s = T.sample(spec(OWN), 1)
    assert len(s.arrival_s) == 3000 and np.all(np.diff(s.arrival_s) >= 0)
    steady = s.klass == 0
    # The steady class keeps its own spacing inside the merged stream, from time zero.
    assert np.allclose(s.arrival_s[steady], np.arange(steady.sum()) / 2.0)
    assert np.all(s.output_tokens[~steady] == 16) and np.all(s.output_tokens[steady] == 8)
    # Shares follow the rates (2 : 8) over the merged horizon.
    assert (~steady).mean() == pytest.approx(0.8, abs=0.03)


def test_equal_times_keep_class_order() -> None:
    s = T.sample(spec("requests = 4, prompt = 8 tokens, output = 4 tokens\n"
                      "class a { arrivals = burst }\nclass b { arrivals = burst }"), 1)
    assert list(s.klass) == [0, 0, 0, 0]
    s = T.sample(spec("prompt = 8 tokens, output = 4 tokens\n"
                      "class a { arrivals = burst, requests = 2 }\nclass b { arrivals = burst, requests = 2 }"), 1)
    assert list(s.klass) == [0, 0, 1, 1]


@pytest.mark.parametrize("body,message", [
    ("requests = 10, prompt = 8 tokens, output = 4 tokens\nclass a { weight = 1 }",
     "missing required field 'arrivals'"),
    ("requests = 10, prompt = 8 tokens, output = 4 tokens\nclass a { arrivals = poisson(1 /s), weight = 2 }",
     "weight means nothing"),
    ("arrivals = poisson(1 /s), requests = 10, prompt = 8 tokens, output = 4 tokens\nclass a { requests = 5 }",
     "'requests' belongs to the block"),
    ("arrivals = poisson(1 /s), requests = 10, prompt = 8 tokens, output = 4 tokens\nclass a { }\nclass a { }",
     "class 'a' defined twice"),
    ("requests = 10, prompt = 8 tokens, output = 4 tokens\nclass a { arrivals = closed(users = 2) }",
     "bound each class with its own 'requests'"),
    ("arrivals = closed(users = 2), requests = 10, prompt = 8 tokens, output = 4 tokens\nclass a { weight = 1 }",
     "closed-loop users need a stream of their own"),
    ("arrivals = poisson(1 /s), requests = 10, prompt = 8 tokens, output = 4 tokens\nclass a { colour = 1 }",
     "unknown field 'colour'"),
    ("arrivals = poisson(1 /s), requests = 10, prompt = 8 tokens, output = 4 tokens\nengine x { }",
     "only 'class <name>"),
])
def test_bad_classes_are_located_errors(body: str, message: str) -> None:
    err = compile_error(program(f"traffic t {{ {body} }}" + RUN))
    assert message in str(err) and "bad.infera:" in str(err)


def test_an_unknown_class_slo_is_located() -> None:
    err = compile_error(program("traffic t { arrivals = poisson(1 /s), requests = 10, prompt = 8 tokens, "
                                "output = 4 tokens\n class a { slo = nope } }" + RUN))
    assert "nope" in str(err) and "bad.infera:" in str(err)


# ---------------------------------------------------------------------------------------------------------
# In the core


def saturated(priorities: tuple[int, int]) -> infera.Results:
    """40 requests at once on one instance that runs one at a time, half of each class, interleaved."""
    text = program(f"""
traffic t {{
  arrivals = burst, requests = 40, prompt = 256 tokens, output = 4 tokens
  class lo {{ weight = 1, priority = {priorities[0]} }}
  class hi {{ weight = 1, priority = {priorities[1]} }}
}}
system s {{ pool gp: 1 x toy {{ max_batch = 1 }} }}
run r {{ model = tiny, traffic = t, system = s }}
""")
    return infera.simulate(infera.compile_text(text))


def test_priority_admission_order_on_a_saturated_instance() -> None:
    req = saturated((1, 0)).requests.sort("first_scheduled_s", "request_id")
    classes = req["class"].cast(pl.String).to_list()
    assert set(classes) == {"lo", "hi"} and req["class"].dtype == pl.Categorical
    # Whoever arrived first may start at once; after that every waiting `hi` goes before any `lo`.
    rest = classes[1:]
    first_lo = rest.index("lo")
    assert all(c == "hi" for c in rest[:first_lo]) and all(c == "lo" for c in rest[first_lo:])
    # Within a class, arrival (request) order.
    for c in ("lo", "hi"):
        ids = req.filter(pl.col("class") == c)["request_id"].to_list()
        assert ids == sorted(ids)


def test_equal_priorities_are_first_come_first_served() -> None:
    req = saturated((3, 3)).requests.sort("first_scheduled_s", "request_id")
    assert req["request_id"].to_list() == sorted(req["request_id"].to_list())


GOODPUT = """
traffic t {
  arrivals = poisson(200 /s), requests = 300, prompt = 512 tokens, output = 16 tokens
  class strict { weight = 1, slo = strict }
  class relaxed { weight = 2 }
}
slo strict { ttft < THRESHOLD }
slo base { ttft < 10 s }
system s { pool gp: 1 x toy { max_batch = 8 } }
run r { model = tiny, traffic = t, system = s, slo = base }
"""


def test_per_class_goodput_counts_each_request_against_its_own_slo() -> None:
    # First the TTFTs (the SLO does not change the schedule), then a threshold between them.
    probe = infera.simulate(infera.compile_text(program(GOODPUT.replace("THRESHOLD", "1000 s"))))
    ttft = probe.requests.filter(pl.col("class") == "strict")["ttft_s"]
    thr = float(ttft.median())
    res = infera.simulate(infera.compile_text(program(GOODPUT.replace("THRESHOLD", f"{thr * 1000:.6f} ms"))))
    req = res.requests.with_columns(pl.col("class").cast(pl.String))
    strict, relaxed = (req.filter(pl.col("class") == c) for c in ("strict", "relaxed"))
    # By hand: a strict request meets its class's SLO when its TTFT is under the threshold; a relaxed one
    # is judged by the run's (10 s), which all meet.
    assert strict["slo_met"].to_list() == (strict["ttft_s"] < thr * (1 + 1e-9)).to_list()
    assert relaxed["slo_met"].all() and 0 < strict["slo_met"].sum() < strict.height
    cls = res.classes.sort("class")
    by = {r["class"]: r for r in cls.iter_rows(named=True)}
    assert by["strict"]["requests"] == strict.height and by["relaxed"]["requests"] == relaxed.height
    duration = res.summary["duration_s"][0]
    assert by["strict"]["goodput_rps"] == pytest.approx(strict["slo_met"].sum() / duration)
    assert by["relaxed"]["goodput_rps"] == pytest.approx(relaxed.height / duration)
    # The run's goodput is the classes' sum, each request judged by its own class's SLO.
    assert res.summary["goodput_rps"][0] == pytest.approx(by["strict"]["goodput_rps"] + by["relaxed"]["goodput_rps"])
    assert by["relaxed"]["slo_pass"] is True
    # Means and percentiles are the core's, over the class's requests.
    assert by["strict"]["ttft_mean_s"] == pytest.approx(strict["ttft_s"].mean(), rel=1e-12)
    assert by["relaxed"]["tpot_mean_s"] == pytest.approx(relaxed["tpot_mean_s"].mean(), rel=1e-12)
    assert by["strict"]["ttft_p99_s"] <= strict["ttft_s"].max()


def test_per_class_statistics_without_request_rows() -> None:
    text = program(GOODPUT.replace("THRESHOLD", "1 s"))
    full = infera.simulate(infera.compile_text(text))
    bare = infera.simulate(infera.compile_text(text), requests=False)
    assert bare.requests.height == 0
    assert bare.classes.equals(full.classes)


def test_a_run_without_classes_has_no_class_columns() -> None:
    res = infera.simulate(infera.compile_text(program(
        "traffic t { arrivals = poisson(5 /s), requests = 20, prompt = 8 tokens, output = 4 tokens }" + RUN)))
    assert "class" not in res.requests.columns and res.classes.height == 0
    plan = infera.compile_text(program(
        "traffic t { arrivals = poisson(5 /s), requests = 20, prompt = 8 tokens, output = 4 tokens }" + RUN))
    assert "classes" not in plan.tables and "class" not in plan["requests"].column_names
    assert "class" not in plan["slos"].column_names


def test_cli_prints_the_class_table(tmp_path, capsys) -> None:  # noqa: ANN001
    from infera.cli import main

    path = tmp_path / "mix.infera"
    path.write_text(program(GOODPUT.replace("THRESHOLD", "1 s")))
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    table = out.split("classes:")[1]
    assert "strict" in table and "relaxed" in table and "goodput_rps" in table
    plain = tmp_path / "plain.infera"
    plain.write_text(program("traffic t { arrivals = poisson(5 /s), requests = 20, prompt = 8 tokens, "
                             "output = 4 tokens }" + RUN))
    assert main(["run", str(plain)]) == 0
    assert "classes:" not in capsys.readouterr().out


def test_a_rate_search_may_rescale_a_weighted_mix() -> None:
    """The block's gaps are drawn first and the classes and lengths after them, whatever the rate, so
    rescaling the unit gaps (as ``max_rate`` does) gives the stream sampled at the new rate directly."""
    import dataclasses

    s = spec(WEIGHTED)
    gaps = T.unit_gaps(s, 9)
    assert gaps is not None
    direct = T.sample(dataclasses.replace(s, rate=3.0), 9)
    assert np.array_equal(direct.arrival_s, T.poisson_arrivals(gaps, 3.0))
    assert np.array_equal(direct.klass, T.sample(s, 9).klass)
