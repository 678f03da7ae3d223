"""The files infera reads and writes: every OS failure on the way in or out becomes a FileError naming the file.

Inputs must be regular files. A directory, a device, a FIFO or a socket is refused before it is opened: reading
``/dev/zero`` would never end and opening a FIFO without a writer would block, so neither may reach a reader.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from infera.exceptions import FileError

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

__all__ = ["input_path", "os_errors", "output_dir", "output_path", "parquet_frame", "read_bytes", "utf8_position",
           "write_parquet"]


def describe(exc: OSError) -> str:
    """The OS's words for a failure ("file name too long"), without the file name the caller already gives."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def _named(path: str | os.PathLike[str]) -> Path:
    # The OS cannot take a NUL in a name; Python would report it as a ValueError from deep inside open().
    if "\0" in os.fspath(path):
        raise FileError(path, "cannot be used: the file name contains a NUL character")
    return Path(path)


def input_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path once it is known to name a regular file; a FileError saying why not otherwise.

    The error's ``reason`` is a predicate of the file ("not found", "is a directory, not a file") that a
    caller may put after its own name for the file.
    """
    p = _named(path)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise FileError(p, "is a broken symbolic link" if p.is_symlink() else "not found") from None
    except OSError as exc:
        raise FileError(p, f"cannot be read: {describe(exc)}") from None
    if stat.S_ISDIR(mode):
        raise FileError(p, "is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise FileError(p, "is not a regular file (a device, FIFO or socket)")
    return p


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The contents of a regular file (see :func:`input_path`)."""
    p = input_path(path)
    with os_errors(p, "be read"):
        return p.read_bytes()


def output_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path for writing; only a NUL in the name is refused here, the rest by :func:`os_errors`."""
    return _named(path)


def output_dir(path: str | os.PathLike[str]) -> Path:
    """A folder for outputs, created with its parents if it does not exist."""
    p = output_path(path)
    with os_errors(p, "be made a folder"):
        p.mkdir(parents=True, exist_ok=True)
    return p


def write_parquet(frame: pl.DataFrame, path: Path) -> Path:
    """Writes ``frame`` to ``path`` as Parquet and returns the path."""
    with os_errors(path, "be written"):
        frame.write_parquet(path)
    return path


def parquet_frame(path: Path) -> pl.DataFrame:
    """A Parquet file as a polars frame. pyarrow reads it, not polars: polars aborts the process on some damaged
    files (a failed allocation of 2**61 bytes) where pyarrow raises. polars also panics on a name or a metadata
    string that is not UTF-8 (found by the trace fuzz target), so every field name is checked and the file's
    metadata, which no caller reads, is dropped before polars sees the table. Raises what pyarrow raises for
    an unreadable file, and ValueError for a name that is not UTF-8."""
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    columns = [table.schema.field(i) for i in range(table.num_columns)]
    _check_names(columns, "column")
    bare = pa.schema([f.remove_metadata() for f in columns])
    frame = pl.from_arrow(pa.Table.from_arrays(table.columns, schema=bare))
    assert isinstance(frame, pl.DataFrame)
    return frame


def _check_names(fields: list[pa.Field], what: str) -> None:
    # pyarrow decodes a name only when asked, so asking is the check; nested types' children too.
    for i, field in enumerate(fields):
        try:
            name = field.name
        except UnicodeDecodeError:
            raise ValueError(f"the name of {what} {i + 1} is not valid UTF-8") from None
        t = field.type
        _check_names([t.field(j) for j in range(t.num_fields)], f"field {i + 1} of {what} '{name}'")


@contextlib.contextmanager
def os_errors(path: str | os.PathLike[str], doing: str) -> Iterator[None]:
    """Turns an OSError raised inside the block into ``FileError(path, "cannot <doing>: <the OS's reason>")``."""
    try:
        yield
    except OSError as exc:
        raise FileError(path, f"cannot {doing}: {describe(exc)}") from None


def utf8_position(data: bytes, start: int) -> tuple[int, int]:
    """The 1-based line and column of byte ``start`` in ``data`` (columns count characters, not bytes)."""
    before = data[:start]
    line_start = before.rfind(b"\n") + 1
    return before.count(b"\n") + 1, len(before[line_start:].decode("utf-8", "replace")) + 1
