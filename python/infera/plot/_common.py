"""What every figure shares: the lazy Altair import (an optional extra), column checks and series labels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import polars as pl

from infera.exceptions import InferaError

if TYPE_CHECKING:
    from infera.results import Results

INSTALL_HINT = "pip install 'infera[plot]'"


class PlotError(InferaError):
    """A figure that cannot be drawn: the plotting extra is missing, or the frame lacks what it needs."""


def altair() -> Any:
    """Altair, imported on first use so that infera works without the ``plot`` extra."""
    try:
        import altair as alt
    except ImportError as exc:
        raise PlotError(f"plots need Altair and vl-convert-python: {INSTALL_HINT} ({exc})") from None
    return alt


def vl_convert() -> Any:
    try:
        import vl_convert as vlc
    except ImportError as exc:
        raise PlotError(f"PNG, SVG and HTML export needs vl-convert-python: {INSTALL_HINT} ({exc})") from None
    return vlc


def need(frame: pl.DataFrame, columns: Sequence[str], figure: str) -> None:
    """A clear error naming the missing columns, rather than a Polars one deep inside a figure."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise PlotError(f"{figure}: the frame has no column(s) {', '.join(missing)} "
                        f"(has: {', '.join(frame.columns)})")


def frame_of(source: "pl.DataFrame | Results", attribute: str, figure: str) -> pl.DataFrame:
    """The frame a figure draws from: the frame itself, or that attribute of a :class:`~infera.Results`."""
    if isinstance(source, pl.DataFrame):
        return source
    frame = getattr(source, attribute, None)
    if not isinstance(frame, pl.DataFrame):
        raise PlotError(f"{figure}: expected a Polars DataFrame or infera.Results, got {type(source).__name__}")
    return frame


def plain(frame: pl.DataFrame) -> pl.DataFrame:
    """Categorical columns as text: Vega-Lite data is JSON."""
    return frame.with_columns(pl.col(pl.Categorical, pl.Enum).cast(pl.String))


def ok_rows(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """Rows with every needed value: a sweep point that failed (``error`` set) has null metrics."""
    if "error" in frame.columns:
        frame = frame.filter(pl.col("error").is_null())
    return frame.drop_nulls(list(columns)).filter(
        pl.all_horizontal([pl.col(c).is_finite() for c in columns if frame.schema[c].is_float()] or [pl.lit(True)]))


def default_by(frame: pl.DataFrame) -> list[str]:
    """A series per system, and per run and sweep when the frame holds several of them."""
    by = [c for c in ("sweep", "run") if c in frame.columns and frame[c].n_unique() > 1]
    return by + (["system"] if "system" in frame.columns else [])


def with_series(frame: pl.DataFrame, by: Sequence[str] | None, figure: str) -> pl.DataFrame:
    """Adds ``series``, the label of a line or colour: the ``by`` columns' values joined by " · "."""
    by = list(by) if by is not None else default_by(frame)
    need(frame, by, figure)
    if not by:
        return frame.with_columns(series=pl.lit("all"))
    parts = [pl.col(c).cast(pl.String) if len(by) == 1 or c in ("sweep", "run", "system")
             else pl.lit(f"{c.rsplit('.', 1)[-1]}=") + pl.col(c).cast(pl.String) for c in by]
    return frame.with_columns(series=pl.concat_str(parts, separator=" · "))


def empty_check(frame: pl.DataFrame, figure: str, why: str) -> None:
    if frame.height == 0:
        raise PlotError(f"{figure}: nothing to draw ({why})")
