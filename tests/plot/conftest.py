"""The plot tests' fixtures: the sweep of plot_helpers' program and the plain simulation of it."""

from __future__ import annotations

import pytest

import infera
from helpers import TINY, program
from plot_helpers import SWEEP, SYSTEMS


@pytest.fixture(scope="session")
def sweep_frame():
    return infera.sweep(infera.parse(program(SYSTEMS + SWEEP, TINY)), backend="serial", progress=False)


@pytest.fixture(scope="session")
def results():
    return infera.simulate(infera.compile_text(program(SYSTEMS, TINY)))
