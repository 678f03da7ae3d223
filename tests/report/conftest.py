"""The report tests' files: the program as a plain run and as a sweep, and the page of each (written once:
bundling the Vega libraries takes seconds)."""

from __future__ import annotations

import pytest

import infera
from helpers import TINY, program
from report_helpers import SWEEP, SYSTEMS


@pytest.fixture(scope="session")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    (folder / "run.infera").write_text(program(SYSTEMS, TINY))
    (folder / "sweep.infera").write_text(program(SYSTEMS + SWEEP, TINY))
    return folder


@pytest.fixture(scope="session")
def run_page(files):
    return infera.report(files / "run.infera", files / "run.html")


@pytest.fixture(scope="session")
def sweep_page(files):
    return infera.report(files / "sweep.infera", files / "sweep.html", backend="serial")
