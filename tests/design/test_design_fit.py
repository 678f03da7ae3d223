"""Pruning: a design is dropped unsimulated exactly when compiling it would fail, with the compiler's error."""

from __future__ import annotations

import pytest

from infera.designs import plan
from infera.exceptions import CompileError
from infera.plan.compiler import compile_program
from infera.sweeps.points import program_at

from design_cases import program


def test_pruning_removes_exactly_the_designs_that_do_not_compile() -> None:
    (prep,) = plan(program())
    compiles = []
    for i, d in enumerate(prep.designs):
        from infera.designs.search import task_of

        try:
            compile_program(program_at(prep.program, task_of(prep.spec, i, d)))
            compiles.append(True)
        except CompileError:
            compiles.append(False)
    assert [e is None for e in prep.errors] == compiles
    # By hand: one `small` chip cannot hold the weights, two can; a `large` chip holds them alone. So the
    # pruned designs are those on `small` chips with a tp = 1 pool: 4 mixed and 10 of the 11 split ones.
    pruned = [d for d, e in zip(prep.designs, prep.errors) if e is not None]
    assert all(d.chip == "small" and any(p.tp == 1 for p in d.pools) for d in pruned)
    assert len(pruned) == 4 + 10
    assert all("does not fit" in e for e in prep.errors if e is not None)


def test_pruned_designs_are_not_simulated_and_keep_their_error() -> None:
    import infera

    frame = infera.design(program(), backend="serial", progress=False)
    pruned = frame.filter(~frame["fits"])
    assert pruned.height == 14
    assert pruned["simulated"].sum() == 0 and pruned["requests"].null_count() == 14
    assert pruned["pruned_error"].str.contains("does not fit").all()
    assert frame.filter(frame["fits"])["simulated"].all()


@pytest.mark.parametrize("memory", ["3 MB", "64 MB"])
def test_the_check_follows_the_chip(memory: str) -> None:
    src = program().replace("memory = 3 MB", f"memory = {memory}")
    (prep,) = plan(src)
    assert (sum(e is not None for e in prep.errors) > 0) == (memory == "3 MB")
