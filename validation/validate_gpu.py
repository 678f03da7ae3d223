"""Compare infera's predictions with a generation loop measured by `validation/measure_gpu.py`.

    python validation/validate_gpu.py gpu_out/generation.csv [--chip h100_sxm] [--profile h100_profile.csv]

For each measured row (model, batch, prompt, output) it simulates a burst of `batch` identical requests on
one chip (bf16, tp = 1, whole-prompt prefill) and prints predicted vs measured prefill time and mean decode
step time, with the error. With `--profile`, the chip carries the calibration profile made by
`infera calibrate` from the same run's measurements.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import infera


def predict(model: str, chip: str, batch: int, prompt: int, output: int, profile: str | None) -> tuple[float, float]:
    prof = f'profile = "{Path(profile).resolve()}"' if profile else ""
    text = f"""
use chips.{chip}, models.{model}
chip c extends {chip} {{ {prof} }}
traffic t {{ arrivals = burst, prompt = {prompt} tokens, output = {output} tokens, requests = {batch} }}
system s {{ pool p: 1 x c, max_batch = {batch}, max_batched_tokens = {batch * prompt}, chunked_prefill = false }}
run r {{ model = {model}, traffic = t, system = s }}
"""
    it = infera.simulate(infera.compile_text(text)).iterations.sort("step")
    prefill = float(it["duration_s"][0])
    decode = float(it["duration_s"][1:].mean())
    return prefill, decode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("generation_csv")
    ap.add_argument("--chip", default="h100_sxm")
    ap.add_argument("--profile")
    args = ap.parse_args()
    print("| model | batch | prompt | measured prefill ms | infera | error | measured step ms | infera | error |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in csv.DictReader(open(args.generation_csv)):
        b, p, o = int(row["batch"]), int(row["prompt"]), int(row["output"])
        pre, step = predict(row["model"], args.chip, b, p, o, args.profile)
        mp, ms = float(row["prefill_s"]), float(row["decode_step_s"])
        print(f"| {row['model']} | {b} | {p} | {mp * 1e3:.2f} | {pre * 1e3:.2f} | {100 * (pre - mp) / mp:+.1f}% | "
              f"{ms * 1e3:.3f} | {step * 1e3:.3f} | {100 * (step - ms) / ms:+.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
