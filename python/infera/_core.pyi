"""Type stub of ``infera._core``, the Rust binding (``rust/python``): the simulator, its result streams, the
exception classes and the names and constants the compiler reads instead of keeping its own copies.

``tests/test_binding.py`` checks this stub against the built module with ``mypy.stubtest``.
"""

from typing import Protocol, final

class _ArrowArrayExportable(Protocol):
    """A one-row record batch: ``pyarrow.RecordBatch`` or any object exporting ``__arrow_c_array__``."""

    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]: ...

__all__ = [
    "__version__",
    "PLAN_VERSION",
    "MAX_INSTANCES",
    "ROUTERS",
    "POLICIES",
    "ARRIVALS",
    "ROLES",
    "METRICS",
    "OPERATOR_ENGINES",
    "PRECISIONS",
    "PRECISION_FALLBACKS",
    "InferaError",
    "PlanError",
    "SimulationError",
    "ArrowStream",
    "simulate",
    "validate_plan",
    "simulate_file",
]

__version__: str

#: The plan format version this core reads (the ``infera.plan_version`` schema metadata of a packed plan).
PLAN_VERSION: str
#: Most instances one run may have.
MAX_INSTANCES: int
#: Request routers a pool's system may use.
ROUTERS: tuple[str, ...]
#: Step-forming policies of a pool's scheduler.
POLICIES: tuple[str, ...]
#: Workload kinds: ``open`` (arrival times given) or ``closed`` (a fixed number of users).
ARRIVALS: tuple[str, ...]
#: Roles of a pool: ``mixed``, ``prefill`` or ``decode``.
ROLES: tuple[str, ...]
#: Latency metrics an SLO may constrain.
METRICS: tuple[str, ...]
#: Engines an operator may name: compute (``tensor``, ``vector``) and communication.
OPERATOR_ENGINES: tuple[str, ...]
#: Precisions an operator or an engine may name, widest first.
PRECISIONS: tuple[str, ...]
#: For each precision, the precisions an operator in it may run at, in order of preference (itself first).
PRECISION_FALLBACKS: dict[str, tuple[str, ...]]

class InferaError(Exception):
    """Base class of every error infera raises on purpose."""

class PlanError(InferaError):
    """A plan (Arrow tables) is malformed or inconsistent.

    ``table``, ``column`` and ``row`` say where when the core knows (else ``None``); ``reason`` says what is
    wrong (``None`` when raised from Python with a message only).
    """

    table: str | None
    column: str | None
    row: int | None
    reason: str | None

class SimulationError(InferaError):
    """The engine could not complete a simulation (an internal invariant broke)."""

@final
class ArrowStream:
    """One result table of a simulation, exported once through the Arrow PyCapsule interface
    (``pl.DataFrame(stream)`` or ``pa.table(stream)`` takes its buffers without copying them)."""

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """Moves the table into an ``arrow_array_stream`` capsule; a second call raises ``ValueError``."""

def simulate(
    plan: _ArrowArrayExportable, *, requests: bool = True, iterations: bool = True, token_stats: bool = True
) -> tuple[ArrowStream, ArrowStream, ArrowStream, ArrowStream, ArrowStream]:
    """Simulates a packed plan and returns its ``(requests, iterations, instances, stats, classes)`` tables
    (``classes``: per run and traffic class, empty when no run's traffic has classes).

    ``requests=False`` keeps no per-request rows, ``iterations=False`` no per-step rows, and
    ``token_stats=False`` skips each request's TPOT percentile. Raises ``PlanError`` if the plan is malformed
    and ``SimulationError`` if the engine fails.
    """

def validate_plan(plan: _ArrowArrayExportable) -> None:
    """Decodes and validates a packed plan without simulating it; raises ``PlanError`` if it is malformed."""

def simulate_file(
    path: str, *, requests: bool = True, iterations: bool = True, token_stats: bool = True
) -> tuple[ArrowStream, ArrowStream, ArrowStream, ArrowStream, ArrowStream]:
    """Reads a plan from an Arrow IPC file and simulates it with no Python in the loop (see ``simulate``)."""
