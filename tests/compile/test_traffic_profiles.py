"""The catalog's workload profiles (`use traffic.<name>`): sampled lengths against the published statistics they
are fitted to, `extends` overriding a profile, and `infera catalog traffic`."""

from __future__ import annotations

import numpy as np
import pytest

import infera
from infera.catalog import section
from infera.cli import main

#: The published statistics (the project reference table of workloads, whose rows cite the traces and papers):
#: profile -> (prompt mean, median, p90, output mean, median, p90, rate /s); None where not published.
PUBLISHED = {
    "azure_code_2023": (2048, 1469, 5194, 28, 13, 55, 2.57),
    "azure_conv_2023": (1155, 1020, 2735, 211, 129, 424, 5.53),
    "sharegpt": (161.31, None, None, 337.99, None, None, None),
    "arxiv_summarization": (2588, 2730, 3702, 291, 167, 372, None),
    "mooncake_conversation": (12035, 6909, 27367, 343, 350, 597, 3.4),
    "lmsys_chat": (69.5, None, None, 214.5, None, None, None),
}

#: How far each profile's mean may be from the published mean: a lognormal fitted to the median and p90 has
#: the mean median * exp(sigma^2 / 2), which misses a trace that is not lognormal by the gap the catalog's
#: comments state (azure_code_2023's prompts +17 %, ...); these are those gaps plus 3 points for sampling.
#: Profiles fitted to a mean alone must hit it within 3 %.
MEAN_TOLERANCE = {
    "azure_code_2023": (0.20, 0.15),
    "azure_conv_2023": (0.22, 0.09),
    "sharegpt": (0.03, 0.03),
    "arxiv_summarization": (0.12, 0.33),
    "mooncake_conversation": (0.04, 0.14),
    "lmsys_chat": (0.03, 0.03),
}

N = 200_000


def sampled(name: str, body: str = f"requests = {N}") -> infera.Plan:
    return infera.compile_text(f"""use chips.h100_sxm, models.llama3_1_8b, traffic.{name}
traffic big extends {name} {{ {body} }}
system s {{ pool p: 1 x h100_sxm }}
run r {{ model = llama3_1_8b, traffic = big, system = s }}
""")


def test_every_profile_is_tested() -> None:
    assert set(section("traffic")) == set(PUBLISHED) == set(MEAN_TOLERANCE)


@pytest.mark.parametrize("name", PUBLISHED)
def test_profile_lengths_match_the_published_statistics(name: str) -> None:
    requests = sampled(name).tables["requests"]
    stats = PUBLISHED[name]
    for column, (mean, median, p90), tolerance in zip(
            ("prompt_tokens", "output_tokens"), (stats[0:3], stats[3:6]), MEAN_TOLERANCE[name]):
        x = np.asarray(requests[column], dtype=np.float64)
        assert len(x) == N
        if median is not None:  # fitted to the median and the p90: both within 3 % (sampling and rounding)
            assert np.median(x) == pytest.approx(median, rel=0.03), column
            assert np.percentile(x, 90) == pytest.approx(p90, rel=0.03), column
        assert x.mean() == pytest.approx(mean, rel=tolerance), column


@pytest.mark.parametrize("name", [n for n, s in PUBLISHED.items() if s[6] is not None])
def test_profile_arrives_at_the_published_rate(name: str) -> None:
    arrival = np.asarray(sampled(name, "requests = 20000").tables["requests"]["arrival_s"])
    assert len(arrival) / arrival[-1] == pytest.approx(PUBLISHED[name][6], rel=0.03)


def test_extends_overrides_a_profile_s_rate_and_keeps_its_lengths() -> None:
    base = sampled("azure_conv_2023", "requests = 20000").tables["requests"]
    fast = sampled("azure_conv_2023", "requests = 20000, arrivals = poisson(50 /s)").tables["requests"]
    arrival = np.asarray(fast["arrival_s"])
    assert len(arrival) / arrival[-1] == pytest.approx(50, rel=0.03)
    # The same block name and seed draw the same lengths; only the gaps were changed.
    assert np.median(np.asarray(fast["prompt_tokens"])) == pytest.approx(np.median(np.asarray(base["prompt_tokens"])),
                                                                         rel=0.03)


def test_a_profile_runs_as_it_is() -> None:
    res = infera.simulate(sampled("azure_code_2023", "requests = 40"))
    assert res.summary["requests"][0] == 40


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(infera.CompileError, match="no traffic 'azure_chat' in the catalog .*azure_conv_2023"):
        infera.compile_text("use traffic.azure_chat\n")


def test_catalog_lists_the_profiles_with_their_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "traffic"]) == 0
    out = capsys.readouterr().out
    for name in PUBLISHED:
        assert name in out
    assert "AzureLLMInferenceTrace_conv" in out and "chips" not in out
