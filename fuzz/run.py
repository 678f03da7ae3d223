"""Runs atheris targets on their seed corpora for a fixed time (or number of inputs); fails on any finding.

    python fuzz/run.py                      # every target in fuzz/python/, 30 s each (what CI runs)
    python fuzz/run.py dsl --seconds 600    # one target, longer
    python fuzz/run.py plan --runs 1000000 --work /tmp/plan-corpus

A target is a file ``fuzz/python/<name>.py`` other than ``harness.py``; adding one needs nothing else here.
New inputs go to ``--work`` (a fresh temporary folder unless given), never into the committed seeds, so a
campaign can be resumed from its work folder. A crash, an uncaught exception, an input slower than
``--timeout`` seconds or a process above ``--rss-mb`` MB stops the target; libFuzzer writes the input to
``fuzz/artifacts/<target>-...`` and this script exits non-zero.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
TARGETS = sorted(p.stem for p in (FUZZ / "python").glob("*.py") if p.stem != "harness")


def run(target: str, args: argparse.Namespace) -> int:
    artifacts = FUZZ / "artifacts"
    artifacts.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"infera-fuzz-{target}-") as scratch:
        work = Path(args.work) if args.work else Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        limit = [f"-runs={args.runs}"] if args.runs else [f"-max_total_time={args.seconds}"]
        command = [sys.executable, str(FUZZ / "python" / f"{target}.py"), *limit, f"-timeout={args.timeout}",
                   f"-rss_limit_mb={args.rss_mb}", f"-artifact_prefix={artifacts}/{target}-", "-print_final_stats=1",
                   str(work), str(FUZZ / "corpus" / target)]
        print(f"== fuzz {target}: {' '.join(command[1:])}", flush=True)
        return subprocess.run(command).returncode


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("targets", nargs="*", choices=[[], *TARGETS], metavar="target",
                   help=f"targets to run (default: all of {', '.join(TARGETS)})")
    p.add_argument("--seconds", type=int, default=30, help="time budget per target (default 30)")
    p.add_argument("--runs", type=int, help="run this many inputs instead of a time budget")
    p.add_argument("--timeout", type=int, default=20, help="seconds one input may take (default 20)")
    p.add_argument("--rss-mb", type=int, default=2048, help="memory limit of the process (default 2048)")
    p.add_argument("--work", help="folder for new inputs (default: a temporary one); one target at a time")
    args = p.parse_args()
    targets = args.targets or TARGETS
    if args.work and len(targets) > 1:
        p.error("--work takes one target")
    failed = [t for t in targets if run(t, args) != 0]
    if failed:
        print(f"fuzz: findings in {', '.join(failed)} (inputs in {FUZZ / 'artifacts'})", file=sys.stderr)
        return 1
    print(f"fuzz: {len(targets)} target(s), no finding")
    return 0


if __name__ == "__main__":
    sys.exit(main())
