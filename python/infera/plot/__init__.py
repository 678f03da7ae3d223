"""Figures of simulation results and sweeps, as Altair charts (the optional extra ``infera[plot]``).

>>> import infera, infera.plot
>>> frame = infera.sweep("examples/sweep_rate.infera")                # doctest: +SKIP
>>> infera.plot.save(infera.plot.latency(frame), "latency.svg")       # doctest: +SKIP
>>> results = infera.run("examples/quickstart.infera")                # doctest: +SKIP
>>> infera.plot.save(results.plot.timeline(), "timeline.html")        # doctest: +SKIP

Each figure function takes a frame (or a :class:`~infera.Results`) and returns an Altair chart, which
notebooks display as is; :func:`save` writes it as SVG, PNG or self-contained HTML by the file's suffix.
Altair over matplotlib because one Vega-Lite spec gives both the static images (rendered by vl-convert
without a browser) and the interactive page, and because Polars' own ``DataFrame.plot`` is Altair.
Altair is imported when a figure is first drawn, so infera runs without it; without it a figure is a
:class:`PlotError` that says ``pip install 'infera[plot]'``.
"""

from infera.plot._common import INSTALL_HINT, PlotError, altair
from infera.plot.cost import goodput_cost
from infera.plot.frontier import frontier, pareto_mask
from infera.plot.latency import latency
from infera.plot.save import save
from infera.plot.sources import KINDS, Frames, load, write_standard
from infera.plot.timeline import timeline
from infera.plot.utilisation import utilisation

__all__ = ["INSTALL_HINT", "KINDS", "altair", "Frames", "PlotError", "frontier", "goodput_cost", "latency", "load",
           "pareto_mask", "save", "timeline", "utilisation", "write_standard"]
