"""What a traffic block compiles to (:class:`TrafficSpec`) and what sampling it gives (:class:`Stream`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from infera.dsl import ast
from infera.plan.traffic.lengths import LengthDist

if TYPE_CHECKING:
    from infera.plan.traffic.sessions import SessionSpec, SystemPrompt

#: Closed-loop benchmark clients (docs/dsl.md, "Closed-loop clients"): users start spread over this ramp-up,
#: and each request reaches the system after a random client-side delay of this mean (exponential).
DEFAULT_RAMP_UP_S = 0.0
DEFAULT_JITTER_S = 1e-3


@dataclass
class Stream:
    arrival_s: np.ndarray  # NaN for closed-loop streams (the engine sets arrivals)
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    #: Closed loop: seconds from a user being ready to send request i to the request reaching the system
    #: (ramp-up offset of each user's first request plus the client's jitter); zeros otherwise.
    send_delay_s: np.ndarray | None = None
    #: Traffic classes: each request's class, an index into the traffic's ``classes`` (None: one class).
    klass: np.ndarray | None = None
    #: Sessions and agents: request i is sent ``think_s[i]`` after the last of the requests
    #: ``after[after_offsets[i]:after_offsets[i + 1]]`` (earlier requests of the stream) has left; such a
    #: request's ``arrival_s`` is NaN. None: every request has its own arrival time.
    after_offsets: np.ndarray | None = None  # int64, n + 1
    after: np.ndarray | None = None  # uint32
    think_s: np.ndarray | None = None  # float64, n
    #: Shared prefixes: request i's prompt starts with the segments
    #: ``prefix_ids[prefix_offsets[i]:prefix_offsets[i + 1]]`` of ``prefix_tokens`` tokens each, in order.
    #: Identities are chained (see :mod:`.prefix`): two requests share their first j segments exactly when
    #: their first j ids are equal. ``output_prefix_id[i]`` (0 = none) is the chained identity of request i's
    #: prompt followed by its output, which a later turn that resends both lists as one of its segments.
    prefix_offsets: np.ndarray | None = None  # int64, n + 1
    prefix_ids: np.ndarray | None = None  # uint64
    prefix_tokens: np.ndarray | None = None  # uint32, one per id
    output_prefix_id: np.ndarray | None = None  # uint64, n

    def delays(self) -> np.ndarray:
        return np.zeros(len(self.arrival_s)) if self.send_delay_s is None else self.send_delay_s


@dataclass(frozen=True)
class TrafficSpec:
    """A compiled ``traffic`` block."""

    name: str
    arrivals: str  # a kind of .processes.ARRIVALS, or trace
    loc: ast.Loc  # of the block
    rate: float = 0.0
    users: int = 0
    think_time_s: float = 0.0
    requests: int | None = None
    duration_s: float | None = None
    prompt: LengthDist = LengthDist("fixed", value=1)
    output: LengthDist = LengthDist("fixed", value=1)
    trace: Stream | None = None
    #: Closed loop: the users' first requests are spread evenly over this time.
    ramp_up_s: float = 0.0
    #: Closed loop: mean of each request's exponential client-side delay.
    jitter_s: float = 0.0
    #: Sessions and agents (:mod:`.sessions`): the arrivals give each session's start; ``requests`` and
    #: ``duration`` bound the sessions started.
    session: SessionSpec | None = None
    #: Shared system prompts put before every session's (or request's) prompt.
    system_prompt: SystemPrompt | None = None
    #: The arrival kind's own parameters beyond ``rate`` (gamma's ``cv``, a piecewise rate's ``at``/``rates``,
    #: ...), in SI units, as its sampler in :data:`.processes.ARRIVALS` reads them.
    params: dict[str, Any] = field(default_factory=dict)
    #: Correlation of the normals joining prompt and output lengths (Gaussian copula); None: independent.
    correlation: float | None = None
    #: Traffic classes (:mod:`.mix`); empty: one class, the block itself.
    classes: tuple[ClassSpec, ...] = ()

    @property
    def longest(self) -> float:
        """The longest request (prompt plus output) the length distributions can produce: of the longest
        class when there are classes (a class's prompt goes with its own outputs)."""
        if self.classes:
            return max(c.traffic.longest for c in self.classes)
        return self.prompt.upper + self.output.upper

    @property
    def longest_prompt(self) -> float:
        """The longest prompt the length distributions can produce: all a prefill-only pool ever holds."""
        if self.classes:
            return max(c.traffic.longest_prompt for c in self.classes)
        return self.prompt.upper


@dataclass(frozen=True)
class ClassSpec:
    """A ``class`` of a traffic mix: its share or its own arrivals, its lengths, SLO and priority."""

    name: str
    loc: ast.Loc
    #: The class's arrivals and lengths as a traffic of its own (fields it does not set are the block's).
    traffic: TrafficSpec
    #: Share of the block's arrivals (when the classes do not have arrivals of their own).
    weight: float = 1.0
    #: Waiting requests are admitted lowest priority first (vLLM's priority scheduling); ties by arrival.
    priority: int = 0
    #: The ``slo`` block its requests are judged by (None: the run's).
    slo: str | None = None
    slo_loc: ast.Loc | None = None
