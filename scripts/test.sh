#!/usr/bin/env bash
# The whole test suite from a fresh clone: creates .venv, installs infera (building the Rust core with
# maturin) with its test dependencies, then runs the Rust tests, each atheris fuzz target on its seed corpus
# for 30 s (docs/fuzzing.md; a finding fails the build), and the Python tests.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e '.[test]'

# Lint first: formatting, clippy with warnings as errors, ruff.
cargo fmt --all -- --check
cargo clippy --locked -p infera-core -p infera-python --all-targets -- -D warnings
ruff check python tests benches validation fuzz

cargo test --locked -p infera-core
python fuzz/run.py --seconds 30
python -m pytest -q
