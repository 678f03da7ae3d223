"""Arrival processes against their definitions: seeded determinism, the sampled rate and burstiness of each
kind within stated tolerances, gamma with cv = 1 against Poisson, and the speed of a million arrivals."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

import infera
from helpers import compile_error, program
from infera.plan import traffic as T

RUN = """
system s { pool gp: 1 x toy }
run r { model = tiny, traffic = t, system = s }
"""


def spec(arrivals: str, bound: str = "requests = 20000") -> T.TrafficSpec:
    from infera.dsl import parse
    from infera.plan.blocks.traffic import compile_traffic
    from infera.plan.scope import Scope

    prog = parse(program(f"traffic t {{ arrivals = {arrivals}, {bound}, prompt = 8 tokens, output = 4 tokens }}"
                         + RUN), "t.infera")
    block = next(b for b in prog.blocks if b.name == "t" and b.kind == "traffic")
    return compile_traffic(Scope.of_program(prog), block)


def arrivals(arrivals: str, bound: str = "requests = 20000", seed: int = 1) -> np.ndarray:
    return T.sample(spec(arrivals, bound), seed).arrival_s


def ks_exponential(gaps: np.ndarray, rate: float) -> float:
    """The Kolmogorov-Smirnov distance between the gaps and an exponential of ``rate``."""
    x = np.sort(gaps)
    cdf = 1 - np.exp(-rate * x)
    n = len(x)
    return float(max((np.arange(1, n + 1) / n - cdf).max(), (cdf - np.arange(n) / n).max()))


@pytest.mark.parametrize("kind", ["poisson(5 /s)", "gamma(5 /s, cv = 2)", "constant(5 /s)",
                                  "piecewise(at = [0 s, 100 s], rate = [2 /s, 8 /s])",
                                  "diurnal(mean = 5 /s, amplitude = 0.5, period = 600 s)",
                                  "onoff(rate_on = 20 /s, mean_on = 5 s, mean_off = 15 s)"])
def test_same_seed_same_stream_other_seed_another(kind: str) -> None:
    a, b = arrivals(kind, seed=7), arrivals(kind, seed=7)
    assert np.array_equal(a, b) and len(a) == 20000
    assert np.all(np.diff(a) >= 0) and a[0] >= 0
    if not kind.startswith("constant"):
        assert not np.array_equal(a, arrivals(kind, seed=8))


def test_gamma_with_cv_one_is_poisson() -> None:
    # 20k gaps: the mean and cv of an exponential sample have standard errors of about 0.7 %; the KS
    # distance of a true exponential sample is below 1.36 / sqrt(n) = 0.0096 with 95 % probability.
    gaps = np.diff(arrivals("gamma(4 /s, cv = 1)"), prepend=0.0)
    assert gaps.mean() == pytest.approx(0.25, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.03)
    assert ks_exponential(gaps, 4.0) < 0.0096
    # The same test tells a bursty gamma apart from Poisson.
    bursty = np.diff(arrivals("gamma(4 /s, cv = 3)"), prepend=0.0)
    assert ks_exponential(bursty, 4.0) > 0.05


@pytest.mark.parametrize("cv", [0.5, 2.0, 4.0])
def test_gamma_gaps_have_the_rate_and_cv_asked_for(cv: float) -> None:
    gaps = np.diff(arrivals(f"gamma(10 /s, cv = {cv})", "requests = 200000"), prepend=0.0)
    assert gaps.mean() == pytest.approx(0.1, rel=0.03 * cv)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.05)


def test_constant_rate_is_evenly_spaced_from_zero() -> None:
    a = arrivals("constant(4 /s)", "duration = 10 s")
    assert np.allclose(a, np.arange(40) / 4.0)


def test_piecewise_rate_counts_per_segment() -> None:
    a = arrivals("piecewise(at = [0 s, 100 s, 200 s], rate = [2 /s, 0 /s, 10 /s])", "duration = 300 s")
    first, gap, last = ((a >= lo) & (a < hi) for lo, hi in ((0, 100), (100, 200), (200, 300)))
    # Poisson counts: 200 +- 3 sd (42) and 1000 +- 3 sd (95); nothing while the rate is zero.
    assert abs(first.sum() - 200) < 43 and gap.sum() == 0 and abs(last.sum() - 1000) < 95


def test_piecewise_by_count_continues_at_the_last_rate() -> None:
    a = arrivals("piecewise(at = [0 s, 10 s], rate = [1 /s, 100 /s])", "requests = 5000")
    late = np.diff(a[a > 20])
    assert late.mean() == pytest.approx(0.01, rel=0.05)


def test_diurnal_rate_follows_the_curve() -> None:
    # Rate 10 * (1 + 0.8 cos(2 pi (t - 250) / 1000)) over 10 periods: the busiest tenth of each period
    # (around the peak) carries far more than the quietest (around the trough).
    a = arrivals("diurnal(mean = 10 /s, amplitude = 0.8, period = 1000 s, peak = 250 s)", "duration = 10000 s")
    assert len(a) == pytest.approx(100000, rel=0.02)
    phase = ((a - 250) / 1000) % 1.0
    near_peak = ((phase < 0.05) | (phase > 0.95)).sum()
    near_trough = (np.abs(phase - 0.5) < 0.05).sum()
    # Expected: integral of the rate over each band, 10 periods.
    band = lambda c: 10 * 10 * (100 + 0.8 * 1000 / math.pi * math.sin(math.pi * 0.1) * c)  # noqa: E731
    assert near_peak == pytest.approx(band(1), rel=0.04)
    assert near_trough == pytest.approx(band(-1), rel=0.08)


def test_onoff_mean_rate_and_burstiness() -> None:
    # On 20 /s for 5 s on average, off (0 /s) for 15 s: the mean rate is 5 /s, and counts per 20 s window
    # vary far more than a Poisson stream's (index of dispersion well above 1).
    a = arrivals("onoff(rate_on = 20 /s, mean_on = 5 s, mean_off = 15 s)", "duration = 40000 s")
    assert len(a) / 40000 == pytest.approx(5.0, rel=0.06)
    counts = np.bincount((a // 20).astype(int))
    assert counts.var() / counts.mean() > 10
    by_count = arrivals("onoff(rate_on = 20 /s, mean_on = 5 s, mean_off = 15 s)", "requests = 50000")
    assert len(by_count) == 50000 and len(by_count) / by_count[-1] == pytest.approx(5.0, rel=0.1)


def test_a_million_arrivals_of_each_kind_are_fast() -> None:
    for kind in ("gamma(100 /s, cv = 2)", "piecewise(at = [0 s, 600 s], rate = [50 /s, 200 /s])",
                 "diurnal(mean = 100 /s, amplitude = 0.5, period = 3600 s)",
                 "onoff(rate_on = 400 /s, mean_on = 2 s, mean_off = 6 s)"):
        s = spec(kind, "requests = 1000000")
        best = math.inf
        for _ in range(2):  # the better of two, so a busy machine's hiccup does not decide it
            start = time.perf_counter()
            a = T.sample(s, 3).arrival_s
            best = min(best, time.perf_counter() - start)
        assert len(a) == 1_000_000
        assert best < 1.0, kind


def test_existing_kinds_are_drawn_as_before() -> None:
    """Poisson by count is the rescaled unit gaps a rate search reuses, so its stream is unchanged."""
    s = spec("poisson(8 /s)", "requests = 1000")
    gaps = T.unit_gaps(s, 5)
    assert np.array_equal(T.sample(s, 5).arrival_s, T.poisson_arrivals(gaps, 8.0))


@pytest.mark.parametrize("arrivals,message", [
    ("gamma(5 /s)", "missing required field 'cv'"),
    ("gamma(5 /s, cv = 0)", "must be > 0"),
    ("piecewise(at = [5 s, 10 s], rate = [1 /s, 2 /s])", "must start at 0 s and increase"),
    ("piecewise(at = [0 s], rate = [1 /s, 2 /s])", "one rate per time"),
    ("diurnal(mean = 5 /s, amplitude = 2, period = 1 h)", "amplitude is a fraction"),
    ("onoff(rate_on = 5 /s, mean_on = 1 s)", "missing required field 'mean_off'"),
    ("zigzag(1 /s)", "arrivals must be poisson(rate)"),
])
def test_bad_arrivals_are_located_errors(arrivals: str, message: str) -> None:
    err = compile_error(program(f"traffic t {{ arrivals = {arrivals}, requests = 10, prompt = 8 tokens, "
                                f"output = 4 tokens }}" + RUN))
    assert message in str(err) and "bad.infera:" in str(err)


def test_new_kinds_run_end_to_end() -> None:
    res = infera.simulate(infera.compile_text(program(
        "traffic t { arrivals = gamma(50 /s, cv = 3), requests = 200, prompt = 64 tokens, output = 8 tokens }"
        + RUN)))
    assert res.summary["requests"][0] == 200
