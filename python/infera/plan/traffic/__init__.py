"""Traffic: what a ``traffic`` block compiles to and the seeded request streams sampled from it.

One job per module: :mod:`.stream` (the compiled spec and the sampled stream), :mod:`.lengths` (token-length
distributions), :mod:`.processes` (arrival processes), :mod:`.arrivals` (sampling one stream),
:mod:`.sampling` (the stream of any block), :mod:`.mix` (sampling a mix of classes), :mod:`.sessions`
(conversations, agents, shared system prompts), :mod:`.prefix` (chained prefix identities), :mod:`.trace`
(replaying files, with the readers :mod:`.trace_table` for CSV and Parquet and :mod:`.trace_jsonl` for JSONL
and Mooncake, sharing :mod:`.trace_rows`).
"""

from infera.plan.traffic.arrivals import closed_loop_delays, poisson_arrivals, rng_for, unit_gaps
from infera.plan.traffic.lengths import MAX_TOKENS, LengthDist
from infera.plan.traffic.processes import ARRIVALS
from infera.plan.traffic.sampling import sample
from infera.plan.traffic.stream import DEFAULT_JITTER_S, DEFAULT_RAMP_UP_S, ClassSpec, Stream, TrafficSpec
from infera.plan.traffic.trace import FORMATS as TRACE_FORMATS
from infera.plan.traffic.trace import TRACE_COLUMNS, TraceError, load_trace

__all__ = ["ARRIVALS", "DEFAULT_JITTER_S", "DEFAULT_RAMP_UP_S", "MAX_TOKENS", "TRACE_COLUMNS", "TRACE_FORMATS",
           "ClassSpec", "LengthDist", "Stream", "TraceError", "TrafficSpec", "closed_loop_delays", "load_trace",
           "poisson_arrivals", "rng_for", "sample", "unit_gaps"]
