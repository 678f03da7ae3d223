"""Every bundled example, and the program shown in the README, compiles, validates and simulates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import infera
from helpers import ROOT

EXAMPLES = sorted((ROOT / "examples").glob("*.infera"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path: Path) -> None:
    plan = infera.compile_file(path)
    infera.check(plan)
    res = infera.simulate(plan, requests=False, iterations=False)
    assert (res.summary["requests"] > 0).all()


def test_readme_program_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    program = re.search(r"## A file\n\n```\n(.*?)```", readme, re.S).group(1)
    res = infera.simulate(infera.compile_text(program, file="README.md"), requests=False)
    assert res.summary["requests"][0] == 20_000
