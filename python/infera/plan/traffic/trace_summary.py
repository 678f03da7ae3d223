"""What a replayed trace holds, in the figures workload tables publish (for ``infera trace``): requests, span
and rate (requests / span, as the tables give it), prompt and output mean/median/p90, and for traces with
block hashes the share of prompt tokens in blocks some earlier request already sent (the most a prefix cache
could save)."""

from __future__ import annotations

import numpy as np

from infera.plan.traffic.stream import Stream


def summarize(stream: Stream) -> dict[str, float]:
    """The figures of one stream, by name (times in seconds, lengths in tokens)."""
    n = len(stream.arrival_s)
    span = float(stream.arrival_s[-1] - stream.arrival_s[0]) if n else 0.0
    out: dict[str, float] = {"requests": float(n), "span_s": span, "rate_per_s": n / span if span > 0 else 0.0}
    for name, x in (("prompt", stream.prompt_tokens), ("output", stream.output_tokens)):
        x = np.asarray(x, dtype=np.float64)
        out[f"{name}_mean"] = float(x.mean())
        out[f"{name}_median"] = float(np.median(x))
        out[f"{name}_p90"] = float(np.percentile(x, 90))
    if stream.prefix_ids is not None and stream.prefix_tokens is not None:
        ids, tokens = stream.prefix_ids, stream.prefix_tokens.astype(np.float64)
        # A block is a repeat when an earlier one has its chained id (the same prefix up to and with it).
        _, first = np.unique(ids, return_index=True)
        repeat = np.ones(len(ids), dtype=bool)
        repeat[first] = False
        out["prefix_blocks"] = float(len(ids))
        out["repeated_prompt_share"] = float(tokens[repeat].sum() / stream.prompt_tokens.astype(np.float64).sum())
    return out
