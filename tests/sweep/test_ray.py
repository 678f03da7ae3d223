"""The Ray backend: points as Ray tasks on a local Ray instance give the frame local processes give, and a
missing Ray is a clear error."""

from __future__ import annotations

import builtins

import pytest

import infera

from conftest import program

GRID = "sweep g { traffic.t.arrivals.rate = [10 /s, 40 /s], system.two.pool.gp.chips = [2, 4] }"


def test_ray_and_local_frames_are_identical() -> None:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = infera.sweep(program(GRID), backend="ray", progress=False)
    finally:
        ray.shutdown()
    local = infera.sweep(program(GRID), backend="local", workers=2, progress=False)
    assert on_ray.height == 8 and on_ray["error"].null_count() == 8
    assert on_ray.equals(local)


def test_a_missing_ray_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = builtins.__import__

    def no_ray(name, *args, **kwargs):  # noqa: ANN001, ANN202
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(infera.InferaError, match=r"pip install 'infera\[ray\]'"):
        infera.sweep(program(GRID), backend="ray", progress=False)
