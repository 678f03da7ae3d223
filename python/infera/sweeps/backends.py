"""Where a sweep's points run: ``local`` (worker processes on this machine, the default), ``serial`` (this
process) and ``ray`` (Ray tasks, :mod:`infera.sweeps.ray_backend`).

Local uses processes rather than threads: the core releases the GIL while it simulates, but compiling a
point and summarising it are Python, which threads would serialise. The workers are
:mod:`infera.sweeps.worker` interpreters (why not multiprocessing: see there), each given the program
once and then one point at a time, so a slow point never holds up a queue behind it.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
from typing import Iterator

import polars as pl

from infera.dsl import ast
from infera.exceptions import InferaError, SimulationError
from infera.sweeps.execute import Backend
from infera.sweeps.points import Task, run_point
from infera.sweeps.worker import receive, send


_WORKER = "from infera.sweeps.worker import main; main()"


def serial(program: ast.Program, tasks: list[Task], workers: int) -> Iterator[pl.DataFrame]:
    for t in tasks:
        yield run_point(program, t)


def local(program: ast.Program, tasks: list[Task], workers: int) -> Iterator[pl.DataFrame]:
    if workers <= 1:
        yield from serial(program, tasks, workers)
        return
    # The workers import infera from where this process did.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, env=env) for _ in range(workers)]
    queue = iter(tasks)
    sel = selectors.DefaultSelector()
    try:
        busy = 0
        for p in procs:
            assert p.stdin is not None and p.stdout is not None
            send(p.stdin, program)
            if _feed(p, queue):
                busy += 1
                sel.register(p.stdout, selectors.EVENT_READ, p)
        while busy:
            for key, _ in sel.select():
                p = key.data
                try:
                    frame = receive(p.stdout)
                except EOFError:
                    raise SimulationError(f"a sweep worker stopped (exit status {p.wait()})") from None
                busy -= 1
                yield frame
                if _feed(p, queue):
                    busy += 1
                else:  # its input is closed, so it exits: that end of its output is not a failure
                    sel.unregister(p.stdout)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            for s in (p.stdin, p.stdout):
                if s is not None:
                    s.close()
        sel.close()


def _feed(p: subprocess.Popen, queue: Iterator[Task]) -> int:
    """Gives a worker its next task (1), or closes its input when there is none (0)."""
    assert p.stdin is not None
    task = next(queue, None)
    if task is None:
        p.stdin.close()
        return 0
    send(p.stdin, task)
    return 1


def ray(program: ast.Program, tasks: list[Task], workers: int) -> Iterator[pl.DataFrame]:
    from infera.sweeps.ray_backend import run

    return run(program, tasks, workers)


BACKENDS: dict[str, Backend] = {"local": local, "serial": serial, "ray": ray}


def backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise InferaError(f"unknown sweep backend '{name}' (known: {', '.join(BACKENDS)})")
    return BACKENDS[name]
