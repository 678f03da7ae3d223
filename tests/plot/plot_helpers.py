"""What the plot tests share: a real small program (the tiny model on the toy chip, priced, two systems, one
of them disaggregated) with a rate sweep, and readers for the specs and files written."""

from __future__ import annotations

import struct
import zlib

import numpy as np


SYSTEMS = """
traffic chat {
  arrivals = poisson(20 /s)
  prompt = uniform(min = 64 tokens, max = 512 tokens)
  output = uniform(min = 8 tokens, max = 64 tokens)
  requests = 150
}
slo fast { ttft.p99 < 200 ms, tpot.p99 < 20 ms }
system mixed { pool gp: 2 x toy, tp = 1, max_batch = 32 }
system split {
  pool pre: 1 x toy, role = prefill
  pool dec: 1 x toy, role = decode, max_batch = 32
  link pre -> dec { bandwidth = 10 GB/s, latency = 5 us }
}
run r { model = tiny, traffic = chat, slo = fast, systems = [mixed, split], seed = 3 }
"""
SWEEP = "sweep rates { traffic.chat.arrivals.rate = [10 /s, 40 /s, 160 /s, 640 /s] }\n"


def dataset(spec: dict) -> list[dict]:
    """The rows a chart draws (Altair lifts a chart's data into ``datasets``; every figure has one)."""
    (rows,) = spec["datasets"].values()
    return rows


def png_pixels(data: bytes) -> np.ndarray:
    """Decodes an 8-bit, non-interlaced PNG (what vl-convert writes) to an array, to check it is not blank."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and interlace == 0
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + width * channels)
    out = np.zeros((height, width * channels), dtype=np.int64)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        prev = out[y - 1] if y else np.zeros_like(line)
        if kind == 0:
            row = line
        elif kind == 1:  # each byte adds the one a pixel to the left: a running sum per channel
            row = np.cumsum(line.reshape(width, channels), axis=0).reshape(-1)
        elif kind == 2:
            row = line + prev
        else:
            row = _unfilter_slow(kind, line, prev, channels)
        out[y] = row & 0xFF
    return out.reshape(height, width, channels)


def _unfilter_slow(kind: int, line: np.ndarray, prev: np.ndarray, channels: int) -> np.ndarray:
    row = np.zeros_like(line)
    for x in range(len(line)):
        a = row[x - channels] if x >= channels else 0
        c = prev[x - channels] if x >= channels else 0
        b = prev[x]
        if kind == 3:
            p = (a + b) // 2
        else:
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        row[x] = (line[x] + p) & 0xFF
    return row
