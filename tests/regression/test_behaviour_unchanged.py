"""The results of every example and of 60 random systems are bit-identical to those recorded in
``tests/regression/fixtures/behaviour.json`` (see ``tests/regression/behaviour.py``)."""

from __future__ import annotations

import json

import pytest

from behaviour import FIXTURE, cases, digest_case

RECORDED = json.loads(FIXTURE.read_text())


@pytest.mark.parametrize("name", sorted(cases()))
def test_results_are_bit_identical_to_the_recording(name: str) -> None:
    text, file = cases()[name]
    assert digest_case(text, file) == RECORDED[name]


def test_the_recording_covers_every_case() -> None:
    assert sorted(RECORDED) == sorted(cases())
    compiled = [v for v in RECORDED.values() if isinstance(v, dict)]
    assert len(compiled) >= 40  # most random systems are possible ones, so the digests test the engine
