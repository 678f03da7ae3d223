"""Writing a chart to a file, the format chosen by the file's suffix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infera.exceptions import FileError
from infera.files import describe
from infera.plot._common import PlotError, vl_convert

FORMATS = (".svg", ".png", ".html", ".json")


def save(chart: Any, path: str | Path, *, scale: float = 2.0) -> Path:
    """Writes ``chart`` (an Altair chart or a Vega-Lite spec as a dict) to ``path``; the suffix picks the format:

    - ``.svg`` and ``.png`` (``scale`` × the chart's size in pixels): static images rendered by
      vl-convert's embedded engine, no browser involved;
    - ``.html``: an interactive page (tooltips, and zoom where the chart allows) with the Vega JavaScript
      inlined, so it opens offline;
    - ``.json``: the Vega-Lite spec itself.

    The folder is created if needed. Returns the path written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise PlotError(f"{path}: a plot file ends in {', '.join(FORMATS)}, not {suffix or 'nothing'!r}")
    spec = chart if isinstance(chart, dict) else chart.to_dict()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".json":
            path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
            return path
        vlc = vl_convert()
        if suffix == ".svg":
            path.write_text(vlc.vegalite_to_svg(spec), encoding="utf-8")
        elif suffix == ".png":
            path.write_bytes(vlc.vegalite_to_png(spec, scale=scale))
        else:
            path.write_text(vlc.vegalite_to_html(spec, bundle=True), encoding="utf-8")
    except OSError as exc:
        raise FileError(path, f"cannot write the plot: {describe(exc)}") from None
    return path
