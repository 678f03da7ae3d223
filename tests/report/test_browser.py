"""The report in a real browser: headless Chromium, cut off from the network, opens the page and the
inlined Vega libraries draw every figure as SVG marks."""

from __future__ import annotations

import pytest

from report_helpers import Elements, browser_dom, chromium

pytestmark = pytest.mark.skipif(chromium() is None, reason="no Chromium found (scripts/test.sh installs the "
                                "OS package `chromium`; or set CHROMIUM to a Chromium or Chrome binary)")

#: Axis titles each figure draws, as text inside its SVG.
AXES = {"latency": "throughput (requests/s)", "frontier": "per chip", "goodput_cost": "goodput",
        "utilisation": "KV", "timeline": "time"}


@pytest.mark.parametrize("page, kinds", [("run_page", set(AXES)), ("sweep_page", {"latency", "frontier",
                                                                                     "goodput_cost"})])
def test_chromium_draws_every_figure_offline(page, kinds, request, tmp_path):
    path = request.getfixturevalue(page)
    dom = browser_dom(path, tmp_path / "profile")
    found = Elements(dom)
    assert set(found.charts) == kinds
    for kind, tags in found.charts.items():
        (chart,) = [a for t, a in found.tags if a.get("id") == f"chart-{kind}"]
        assert chart.get("data-rendered") == "true", (kind, chart)
        svgs = [a for t, a in tags if t == "svg" and "marks" in a.get("class", "")]
        assert len(svgs) == 1, kind  # vega-embed's SVG renderer drew the figure
        marks = [a for t, a in tags if t == "path" and a.get("d")]
        assert len(marks) >= 5, (kind, len(marks))  # axes, gridlines and the data marks themselves
        roles = {a.get("class", "") for t, a in tags if t == "g"}
        assert any("role-axis" in r for r in roles) and any("role-mark" in r for r in roles), kind
    text = dom.split('id="figures"', 1)[1]
    for kind in kinds:
        assert AXES[kind] in text, kind


def test_an_unrendered_page_has_no_drawn_figures(run_page):
    # The page as written, before any script runs: the SVGs above come from the browser, not the file.
    found = Elements(run_page.read_text(encoding="utf-8"))
    assert found.charts and all(tags == [] for tags in found.charts.values())
    assert not [a for _, a in found.tags if "data-rendered" in a]
