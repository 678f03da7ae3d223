"""A trace's optional prefix columns: each request's prompt segments with chained identities.

A Parquet trace may carry ``prefix_ids`` (a list of unsigned 64-bit chained segment identities, see
:mod:`.prefix`), ``prefix_tokens`` (a list of token counts, one per segment) and ``output_prefix_id`` (the
identity of the prompt followed by the output, 0 for none), all three or none (docs/prefix-caching.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

PREFIX_COLUMNS = ("prefix_ids", "prefix_tokens", "output_prefix_id")


def read_prefixes(df: Any, order: np.ndarray, prompt: np.ndarray, fail: Any) -> dict[str, np.ndarray]:
    """The stream's prefix fields from a trace frame ``df`` (polars), its rows taken in ``order``;
    ``prompt`` holds the ordered prompt lengths. ``fail(message, row)`` raises the trace's located error
    (``row`` is the file's 0-based data row). Returns ``{}`` when the trace has no prefix columns."""
    present = [c for c in PREFIX_COLUMNS if c in df.columns]
    if not present:
        return {}
    if len(present) != len(PREFIX_COLUMNS):
        missing = [c for c in PREFIX_COLUMNS if c not in present]
        fail(f"has {', '.join(present)} but not {', '.join(missing)} (the prefix columns come together)", None)
    ids = df.get_column("prefix_ids").to_list()
    toks = df.get_column("prefix_tokens").to_list()
    out = df.get_column("output_prefix_id").to_list()
    counts = np.zeros(len(order), dtype=np.int64)
    flat_ids: list[int] = []
    flat_toks: list[int] = []
    outs = np.zeros(len(order), dtype=np.uint64)
    for k, row in enumerate(order):
        i, t, o = ids[row] or [], toks[row] or [], out[row] or 0
        if len(i) != len(t):
            fail(f"prefix_tokens has {len(t)} entries for {len(i)} prefix_ids (one per segment)", int(row))
        if any(x is None or x <= 0 for x in i) or any(x is None or x < 0 for x in t):
            fail("prefix_ids must be > 0 and prefix_tokens >= 0", int(row))
        if sum(t) > prompt[k]:
            fail(f"the prefix segments hold {sum(t)} tokens, more than the prompt's {prompt[k]}", int(row))
        counts[k] = len(i)
        flat_ids.extend(i)
        flat_toks.extend(t)
        outs[k] = o
    offsets = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return {"prefix_offsets": offsets, "prefix_ids": np.array(flat_ids, dtype=np.uint64),
            "prefix_tokens": np.array(flat_toks, dtype=np.uint32), "output_prefix_id": outs}
