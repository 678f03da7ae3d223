"""Length distributions against their definitions (means and percentiles within stated tolerances), their
clipping, empirical columns read from files with located errors, and the Gaussian-copula correlation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers import compile_error, program
from infera.dsl import parse
from infera.plan.blocks.traffic import compile_traffic
from infera.plan.scope import Scope
from infera.plan import traffic as T

RUN = """
system s { pool gp: 1 x toy }
run r { model = tiny, traffic = t, system = s }
"""
N = 200_000


def stream(prompt: str, output: str = "4 tokens", extra: str = "", file: str = "t.infera",
           seed: int = 1) -> T.Stream:
    prog = parse(program(f"traffic t {{ arrivals = poisson(5 /s), requests = {N}, prompt = {prompt}, "
                         f"output = {output} {extra} }}" + RUN), file)
    block = next(b for b in prog.blocks if b.name == "t" and b.kind == "traffic")
    return T.sample(compile_traffic(Scope.of_program(prog), block), seed)


def prompts(prompt: str, **kw: str) -> np.ndarray:
    return stream(prompt, **kw).prompt_tokens.astype(np.float64)


def test_normal_mean_sd_and_clipping() -> None:
    x = prompts("normal(mean = 500, sd = 100)")
    # Standard error of the mean 0.22 tokens, of the sd about 0.16 tokens.
    assert x.mean() == pytest.approx(500, abs=1.5) and x.std() == pytest.approx(100, rel=0.01)
    clipped = prompts("normal(mean = 500, sd = 100, min = 450, max = 520)")
    assert clipped.min() == 450 and clipped.max() == 520
    # P(X <= 450) = Phi(-0.5) = 0.3085 of the draws land on the lower bound.
    assert (clipped == 450).mean() == pytest.approx(0.3085, abs=0.005)


def test_lognormal_median_and_p90() -> None:
    x = prompts("lognormal(median = 700 tokens, sigma = 0.5)")
    assert np.median(x) == pytest.approx(700, rel=0.01)
    assert np.percentile(x, 90) == pytest.approx(700 * math.exp(0.5 * 1.2815516), rel=0.01)


def test_uniform_covers_its_range_evenly() -> None:
    x = prompts("uniform(min = 10, max = 19)")
    counts = np.bincount(x.astype(int))[10:20]
    assert x.min() == 10 and x.max() == 19 and np.all(np.abs(counts / N - 0.1) < 0.004)


def test_zipf_probabilities_follow_the_power_law() -> None:
    x = prompts("zipf(s = 1.5, min = 1, max = 1000)")
    k = np.arange(1, 1001)
    p = k ** -1.5 / (k ** -1.5).sum()
    freq = np.bincount(x.astype(int), minlength=1001)[1:]
    # The heaviest values within 3 binomial standard deviations of their probabilities.
    for i in range(5):
        sd = math.sqrt(p[i] * (1 - p[i]) / N)
        assert abs(freq[i] / N - p[i]) < 3 * sd + 1e-12
    assert x.mean() == pytest.approx((k * p).sum(), rel=0.03)


def test_mixture_weights_and_components() -> None:
    x = prompts("mixture(weights = [0.7, 0.3], of = [fixed(value = 100), uniform(min = 1000, max = 2000)])")
    share = (x == 100).mean()
    assert share == pytest.approx(0.7, abs=3 * math.sqrt(0.21 / N))
    assert x[x != 100].min() >= 1000 and x.max() <= 2000
    assert x[x != 100].mean() == pytest.approx(1500, rel=0.01)


def test_empirical_samples_the_column(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "lengths.csv").write_text("n,other\n" + "\n".join(f"{v},x" for v in [10, 20, 20, 30]) + "\n")
    x = prompts('empirical("lengths.csv", column = "n")', file=str(tmp_path / "t.infera"))
    assert set(np.unique(x)) == {10, 20, 30}
    assert (x == 20).mean() == pytest.approx(0.5, abs=0.005)
    clipped = prompts('empirical("lengths.csv", column = "n", max = 25)', file=str(tmp_path / "t.infera"))
    assert clipped.max() == 25


@pytest.mark.parametrize("content,column,message", [
    (None, "n", "not found"),
    ("n\n1\n2\n", "m", "has no column 'm'"),
    ("n\n1\n-3\n", "n", "row 3: n = -3 is not a valid token count"),
    ("n\n1\n2.5\n", "n", "row 3"),
    ("n\n1\nabc\n", "n", "row 3"),
])
def test_empirical_file_errors_are_located(tmp_path, content: str | None, column: str, message: str) -> None:  # noqa: ANN001
    if content is not None:
        (tmp_path / "lengths.csv").write_text(content)
    text = program(f'traffic t {{ arrivals = poisson(5 /s), requests = 10, prompt = empirical("lengths.csv", '
                   f'column = "{column}"), output = 4 tokens }}' + RUN)
    err = compile_error(text, file=str(tmp_path / "bad.infera"))
    assert message in str(err) and "bad.infera:" in str(err)


def test_correlation_joins_prompt_and_output_keeping_their_marginals() -> None:
    def rank_corr(a: np.ndarray, b: np.ndarray) -> float:
        ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
        return float(np.corrcoef(ra, rb)[0, 1])

    prompt, output = "lognormal(median = 1000 tokens, sigma = 0.8)", "normal(mean = 300, sd = 60)"
    s = stream(prompt, output, extra=", correlation = 0.7")
    # Spearman correlation of a Gaussian copula with rho: (6 / pi) asin(rho / 2) = 0.683.
    assert rank_corr(s.prompt_tokens, s.output_tokens) == pytest.approx(6 / math.pi * math.asin(0.35), abs=0.01)
    assert np.median(s.prompt_tokens) == pytest.approx(1000, rel=0.01)
    assert s.output_tokens.mean() == pytest.approx(300, abs=1) and s.output_tokens.std() == pytest.approx(60, rel=0.02)
    free = stream(prompt, output)
    assert abs(rank_corr(free.prompt_tokens, free.output_tokens)) < 0.01


def test_correlated_discrete_marginals_are_kept() -> None:
    s = stream("uniform(min = 1, max = 100)", "zipf(s = 1.2, min = 1, max = 50)", extra=", correlation = 0.9")
    assert s.prompt_tokens.mean() == pytest.approx(50.5, rel=0.01)
    k = np.arange(1, 51)
    p = k ** -1.2 / (k ** -1.2).sum()
    assert (s.output_tokens == 1).mean() == pytest.approx(p[0], abs=0.005)


@pytest.mark.parametrize("prompt,message", [
    ("normal(mean = 500)", "missing required field 'sd'"),
    ("zipf(s = 1.1)", "zipf() needs max"),
    ("mixture(weights = [1], of = [])", "one distribution in 'of' per weight"),
    ("normal(mean = 5, sd = 1, min = 10, max = 5)", "max (5) is below min (10)"),
])
def test_bad_lengths_are_located_errors(prompt: str, message: str) -> None:
    err = compile_error(program(f"traffic t {{ arrivals = poisson(5 /s), requests = 10, prompt = {prompt}, "
                                f"output = 4 tokens }}" + RUN))
    assert message in str(err) and "bad.infera:" in str(err)


def test_correlation_out_of_range_is_an_error() -> None:
    err = compile_error(program("traffic t { arrivals = poisson(5 /s), requests = 10, prompt = 8 tokens, "
                                "output = 4 tokens, correlation = 1.5 }" + RUN))
    assert "correlation must be a number in [-1, 1]" in str(err)


def test_a_paired_output_comes_from_its_prompt_s_row(tmp_path) -> None:  # noqa: ANN001
    # A joint empirical table: each request's output is the output of the row its prompt was drawn from.
    rows = [(100, 7), (200, 9), (300, 11), (400, 13)]
    (tmp_path / "pairs.csv").write_text("p,o\n" + "\n".join(f"{p},{o}" for p, o in rows) + "\n")
    f = str(tmp_path / "t.infera")
    s = stream('empirical("pairs.csv", column = "p")', 'empirical("pairs.csv", column = "o", paired = true)', file=f)
    pairs = set(zip(s.prompt_tokens.tolist(), s.output_tokens.tolist(), strict=True))
    assert pairs == set(rows)
    # Pairing leaves the prompts exactly as an unpaired draw gives them.
    alone = stream('empirical("pairs.csv", column = "p")', 'empirical("pairs.csv", column = "o")', file=f)
    assert alone.prompt_tokens.tolist() == s.prompt_tokens.tolist()
    assert set(zip(alone.prompt_tokens.tolist(), alone.output_tokens.tolist(), strict=True)) > pairs


@pytest.mark.parametrize("prompt,output,extra,message", [
    ("64 tokens", 'empirical("pairs.csv", column = "o", paired = true)', "", "reads the rows of the prompt's file"),
    ('empirical("pairs.csv", column = "p")', 'empirical("pairs.csv", column = "o", paired = true)',
     ", correlation = 0.5", "remove correlation"),
    ('empirical("pairs.csv", column = "p", paired = true)', "4 tokens", "", "belongs on the output's empirical()"),
])
def test_a_paired_output_without_its_prompt_s_file_is_a_located_error(tmp_path, prompt: str, output: str,  # noqa: ANN001
                                                                      extra: str, message: str) -> None:
    (tmp_path / "pairs.csv").write_text("p,o\n100,7\n200,9\n")
    text = program(f"traffic t {{ arrivals = poisson(5 /s), requests = 10, prompt = {prompt}, output = {output}"
                   f"{extra} }}" + RUN)
    err = compile_error(text, file=str(tmp_path / "bad.infera"))
    assert message in str(err) and str(err).startswith(str(tmp_path / "bad.infera") + ":")
