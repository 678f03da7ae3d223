"""Files written by infera.plot.save: the right type by suffix, not empty, and (PNG) not blank."""

from __future__ import annotations

import json

import pytest

import infera
import infera.plot as P
from plot_helpers import png_pixels


@pytest.mark.parametrize("kind", ["latency", "frontier", "goodput_cost"])
def test_svg_png_html_and_json_of_a_sweep(sweep_frame, tmp_path, kind):
    chart = getattr(P, kind)(sweep_frame)
    svg = P.save(chart, tmp_path / f"{kind}.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<svg") and "<path" in svg and svg.rstrip().endswith("</svg>")
    png = P.save(chart, tmp_path / "deep" / f"{kind}.png", scale=1).read_bytes()
    pixels = png_pixels(png)
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels[..., :3].std() > 10  # drawn marks and text, not one flat colour
    html = P.save(chart, tmp_path / f"{kind}.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html") and "vegaEmbed" in html
    assert "cdn.jsdelivr" not in html and "<script src=" not in html  # JavaScript inlined: opens offline
    assert json.loads(P.save(chart, tmp_path / f"{kind}.json").read_text())["$schema"].startswith(
        "https://vega.github.io/schema/vega-lite/")


@pytest.mark.parametrize("kind", ["utilisation", "timeline"])
def test_png_of_a_run(results, tmp_path, kind):
    pixels = png_pixels(P.save(getattr(results.plot, kind)(), tmp_path / f"{kind}.png", scale=1).read_bytes())
    assert pixels[..., :3].std() > 10


def test_unknown_suffix_and_unwritable_path(sweep_frame, tmp_path):
    chart = P.frontier(sweep_frame)
    with pytest.raises(P.PlotError, match=r"\.pdf"):
        P.save(chart, tmp_path / "x.pdf")
    (tmp_path / "file").write_text("")
    with pytest.raises(infera.FileError, match="cannot write the plot"):
        P.save(chart, tmp_path / "file" / "x.svg")
