"""A local sweep worker (its :func:`main` in a fresh interpreter), fed by :func:`infera.sweeps.backends.local`.

It reads length-prefixed pickles on stdin (the program once, then one task at a time) and answers each
task with its frame on stdout. Workers are separate interpreters started by command rather than forked or
spawned by multiprocessing: a fork of a process whose Polars thread pool is running can deadlock, and
multiprocessing's spawn re-imports the caller's main script, which fails in scripts without a
``__main__`` guard. A worker ignores SIGINT: Ctrl-C is the driver's to handle, and it stops the workers.
"""

from __future__ import annotations

import pickle
import signal
import struct
import sys
from typing import IO, Any

_HEADER = struct.Struct("<Q")


def send(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next object, or ``EOFError`` when the other side has closed the stream."""
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError
    size = _HEADER.unpack(head)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from infera.sweeps.points import run_point

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing printed may corrupt the answers
    program = receive(inp)
    while True:
        try:
            task = receive(inp)
        except EOFError:
            return
        send(out, run_point(program, task))

