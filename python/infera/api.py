"""The Python entry points: compile `.infera` sources to plans and simulate plans into Polars results, and
import a model from a Hugging Face config.json (:func:`model_from_config`)."""

from __future__ import annotations

from pathlib import Path

from infera import _core
from infera.dsl import parse, parse_file
from infera.model_import import ImportedModel, model_from_config
from infera.plan import Plan, compile_program
from infera.results import Results


__all__ = ["ImportedModel", "check", "compile_file", "compile_text", "model_from_config", "run", "simulate"]


def compile_file(path: str | Path) -> Plan:
    """Parses and compiles a `.infera` file into a plan (raises ``InferaSyntaxError`` / ``CompileError``)."""
    return compile_program(parse_file(path))


def compile_text(text: str, file: str = "<string>") -> Plan:
    """Parses and compiles `.infera` source text; ``file`` names it in error messages."""
    return compile_program(parse(text, file=file))


def check(plan: Plan) -> None:
    """Validates a plan with the Rust core without simulating it (raises ``PlanError``)."""
    _core.validate_plan(plan.to_batch())


def simulate(plan: Plan | str | Path, *, requests: bool = True, iterations: bool = True,
             token_stats: bool = True) -> Results:
    """Simulates every run of a plan (a :class:`Plan`, or the path of a saved plan file).

    ``requests=False`` keeps no per-request rows (the summary still comes from the core's per-run
    statistics); ``iterations=False`` drops the per-step table; ``token_stats=False`` skips each request's
    TPOT percentile (its token times are then not kept). They bound memory on very large runs; a run's
    ``record = [...]`` field in the DSL narrows them further.

    >>> import infera
    >>> res = infera.simulate(infera.compile_file("examples/quickstart.infera"))  # doctest: +SKIP
    >>> res.summary.select("throughput_rps", "ttft_p99_s")                         # doctest: +SKIP
    """
    if not isinstance(plan, Plan):
        plan = Plan.load(plan)
    out = _core.simulate(plan.to_batch(), requests=requests, iterations=iterations, token_stats=token_stats)
    return Results(plan, *out)


def run(source: str | Path, *, requests: bool = True, iterations: bool = True, token_stats: bool = True) -> Results:
    """Compiles a `.infera` file and simulates it: ``infera.run("examples/quickstart.infera").summary``."""
    return simulate(compile_file(source), requests=requests, iterations=iterations, token_stats=token_stats)
