"""Serving fidelity cannot silently regress: the whole harness (validation/serving.py, every row of both sets,
about 20 s on 2 cores) is run and its median |errors| are held under bounds.

The bounds are the figures reached when the harness landed plus a small margin. They may only tighten: when a
mechanism lands (serving-stack profiles, benchmark-client jitter, shape-dependent kernel efficiency) and the
figures improve, lower the bound to the new figure plus the same margin. Issue #14's targets are below; the
strict xfail turns into a failure the day they are met, so the bounds get replaced by the targets then.
"""

from __future__ import annotations

import sys

import pytest

from helpers import ROOT

sys.path.insert(0, str(ROOT / "validation" / "serving"))
import serving_report  # noqa: E402
from serving_rows import read_rows  # noqa: E402
from serving_run import simulate_rows  # noqa: E402

# Reached at landing (507 rows simulated: dense and a few MoE models): mean TTFT 57.2%, mean TPOT 12.3%.
# Re-set when the rows grew to 3772 (the config-imported models, B300/GB300, NVFP4/MXFP4, sliding windows and
# linear attention made 7x as many expressible) together with the stack profiles, client jitter, graph/eager
# launches, graph padding, the all-reduce algorithms and kernel shapes: mean TTFT 46.4%, mean TPOT 15.2%;
# InferenceX p99 TTFT 52.3%, p99 TPOT 16.7%; worst group of at least 3 rows under 100% (mean TTFT). From here
# on they may only tighten. Attention DP then added 431 rows (4203): mean TTFT 47.9%, mean TPOT 16.0%,
# InferenceX p99 TTFT 50.1%, p99 TPOT 17.6%. SGLang's scheduler polling as the recipes set it
# (`recv_interval`): mean TTFT 45.2%, mean TPOT 15.5%, InferenceX p99 TTFT 48.8%, p99 TPOT 17.0%. The
# stacks' front ends tokenizing each prompt (`frontend_per_token`) and FP4 weights on Hopper as the W4A16
# kernels the stacks run there: mean TTFT 31.8%, mean TPOT 15.7%, InferenceX p99 TTFT 37.6%, p99 TPOT 17.2%.
# Graphs per attention-DP rank and up to the recipes' running batch on TensorRT-LLM, per-rank limits, first
# tokens from the decode side: mean TTFT 32.3%, mean TPOT 15.1%, InferenceX p99 TTFT 37.3%, p99 TPOT 16.5%.
# The busiest attention-DP rank and Dynamo's front end: 32.2%, 15.0%, 37.8%, 16.5%. Re-set when the GB200 and
# GB300 rows were placed in their 72-GPU NVLink domain, which made 144 more rows expressible (4347: the largest
# disaggregated DeepSeek-R1 deployments, 16-48 attention ranks, mean TTFT off by 40-64% on them), with the
# per-sequence CPU work paid per attention rank: 33.2%, 15.3%, 38.4%, 16.5% (on the 4203 earlier rows 32.3%,
# 15.3%, 38.0%, 16.6%). The KV cache in FP8 where the row's InferenceX recipe set it: 32.4%, 15.2%, 37.6%, 16.5%.
# Redundant expert slots: 20 more rows (4367), 32.5%, 15.3%, 37.9%, 16.7%; aiconfigurator's gpt-oss FP4 rows as
# the MXFP4 checkpoint they ran: 32.5%, 15.1%, 37.9%, 16.7%. The stacks' step overhead priced per layer instead
# of per step: 33.0%, 13.6%, 38.1%, 15.2%. Re-set when 27 aiconfigurator rows were found to record no worker
# count (concurrency 2-32 times the worker's batch; 4340 rows) and the disaggregated TensorRT-LLM prefill
# workers took their recipes' per-rank batches: 32.8%, 13.5%, 38.0%, 15.0%.
MEAN_TTFT_BOUND = 0.33
MEAN_TPOT_BOUND = 0.14
P99_TTFT_BOUND = 0.39
P99_TPOT_BOUND = 0.155
WORST_GROUP_BOUND = 1.00
#: Groups this small are single measurements, some of them of unrecorded recipes (docs/validation-serving.md,
#: "Where it misses"); the worst-group bound holds over groups of at least this many rows.
MIN_GROUP_ROWS = 3
#: Fewer simulated rows means the mapping lost some: rows only become expressible, unless a row is found to
#: record less than it seemed to (the comment above says which).
MIN_ROWS_SIMULATED = 4340

TARGET_MEAN_TTFT, TARGET_MEAN_TPOT, TARGET_P99, TARGET_GROUP = 0.15, 0.06, 0.20, 0.25


@pytest.fixture(scope="module")
def outcomes():
    return simulate_rows(read_rows("all"), jobs=2, progress=False)


def test_median_errors_within_bounds(outcomes) -> None:
    s = serving_report.summary(outcomes)
    assert s["all"]["rows"] >= MIN_ROWS_SIMULATED
    assert s["all"]["ttft_mean"] <= MEAN_TTFT_BOUND
    assert s["all"]["tpot_mean"] <= MEAN_TPOT_BOUND
    assert s["inferencex"]["ttft_p99"] <= P99_TTFT_BOUND
    assert s["inferencex"]["tpot_p99"] <= P99_TPOT_BOUND


def test_no_group_worse_than_bound(outcomes) -> None:
    groups = serving_report.group_medians(outcomes)
    worst = max(max(d["ttft_mean"], d["tpot_mean"]) for d in groups.values() if d["rows"] >= MIN_GROUP_ROWS)
    assert worst <= WORST_GROUP_BOUND


def test_same_rows_same_predictions(outcomes) -> None:
    first = {o.row.id: o.predicted for o in outcomes if o.row.set == "inferencex" and o.predicted is not None}
    sample = [r for r in read_rows("inferencex") if r.id in first][:40]
    again = simulate_rows(sample, jobs=1, progress=False)
    assert len(again) == 40 and all(first[o.row.id] == o.predicted for o in again)


@pytest.mark.xfail(strict=True, reason="issue #14 targets not met yet; when this passes, tighten the bounds")
def test_issue_targets(outcomes) -> None:
    s = serving_report.summary(outcomes)
    groups = serving_report.group_medians(outcomes)
    assert s["all"]["ttft_mean"] <= TARGET_MEAN_TTFT and s["all"]["tpot_mean"] <= TARGET_MEAN_TPOT
    assert s["inferencex"]["ttft_p99"] <= TARGET_P99 and s["inferencex"]["tpot_p99"] <= TARGET_P99
    assert all(max(d["ttft_mean"], d["tpot_mean"]) <= TARGET_GROUP for d in groups.values())


def test_page_is_what_the_harness_writes(outcomes, tmp_path) -> None:
    page = ROOT / "docs" / "validation-serving.md"
    names = sorted(p.name for p in (ROOT / "docs" / "figures").glob("serving_*.svg"))
    body = serving_report.markdown(outcomes, [n for n in ("serving_ttft_mean.svg", "serving_tpot_mean.svg",
                                                          "serving_ttft_p99.svg", "serving_tpot_p99.svg")
                                              if n in names])
    copy = tmp_path / "page.md"
    copy.write_text(page.read_text(encoding="utf-8"), encoding="utf-8")
    serving_report.write_page(copy, body)
    assert copy.read_text(encoding="utf-8") == page.read_text(encoding="utf-8"), \
        "docs/validation-serving.md is stale: run python validation/serving.py"


def test_figures_render(outcomes, tmp_path) -> None:
    pytest.importorskip("altair")
    pytest.importorskip("vl_convert")
    names = serving_report.figures(outcomes, tmp_path)
    assert names == ["serving_ttft_mean.svg", "serving_tpot_mean.svg", "serving_ttft_p99.svg",
                     "serving_tpot_p99.svg"]
    svg = (tmp_path / names[0]).read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "measured mean TTFT (ms)" in svg
