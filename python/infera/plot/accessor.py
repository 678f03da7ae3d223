"""``results.plot.<kind>()``: the figures of one simulation, bound to its frames."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infera.plot.cost import goodput_cost
from infera.plot.frontier import frontier
from infera.plot.latency import latency
from infera.plot.timeline import timeline
from infera.plot.utilisation import utilisation

if TYPE_CHECKING:
    from infera.results import Results


class ResultsPlot:
    """The figures of a :class:`~infera.Results`; each method takes the figure function's options."""

    def __init__(self, results: "Results") -> None:
        self._results = results

    def latency(self, **options: Any) -> Any:
        """:func:`infera.plot.latency` of the summary (a point per run and system)."""
        return latency(self._results.summary, **options)

    def frontier(self, **options: Any) -> Any:
        """:func:`infera.plot.frontier` of the summary."""
        return frontier(self._results.summary, **options)

    def goodput_cost(self, **options: Any) -> Any:
        """:func:`infera.plot.goodput_cost` of the summary."""
        return goodput_cost(self._results.summary, **options)

    def utilisation(self, **options: Any) -> Any:
        """:func:`infera.plot.utilisation` of the per-step rows."""
        return utilisation(self._results, **options)

    def timeline(self, request_id: Any = None, **options: Any) -> Any:
        """:func:`infera.plot.timeline` of the per-request rows."""
        return timeline(self._results, request_id, **options)
