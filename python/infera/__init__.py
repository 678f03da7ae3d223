"""infera: simulate LLM serving token by token on described hardware.

>>> import infera
>>> results = infera.run("examples/quickstart.infera")   # doctest: +SKIP
>>> results.summary                                      # doctest: +SKIP

The pipeline: ``.infera`` text → :func:`parse` (Lark) → :func:`compile_file` (a :class:`Plan` of Arrow
tables) → :func:`simulate` (the Rust core) → :class:`Results` (Polars frames).
"""

from infera._core import __version__
from infera.api import ImportedModel, check, compile_file, compile_text, model_from_config, run, simulate
from infera.dsl import parse, parse_file
from infera.exceptions import CompileError, FileError, InferaError, InferaSyntaxError, PlanError, SimulationError
from infera.plan import Plan
from infera.plan.traffic import TraceError, load_trace
from infera.results import Results
from infera.search import max_rate
from infera.calibrate import calibrate
from infera.sweeps import SweepInterrupted, sweep
from infera import designs
from infera.designs import design
from infera.reports import report

__all__ = [
    "__version__",
    "CompileError",
    "FileError",
    "ImportedModel",
    "InferaError",
    "InferaSyntaxError",
    "Plan",
    "PlanError",
    "Results",
    "SimulationError",
    "SweepInterrupted",
    "TraceError",
    "calibrate",
    "check",
    "compile_file",
    "compile_text",
    "design",
    "designs",
    "load_trace",
    "max_rate",
    "model_from_config",
    "parse",
    "parse_file",
    "report",
    "run",
    "simulate",
    "sweep",
]
