#!/usr/bin/env bash
# The whole test suite from a fresh clone: creates .venv, installs infera (building the Rust core with
# maturin) with its test dependencies, then runs the Rust tests and the Python tests.
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
ruff check python tests benches validation

cargo test --locked -p infera-core
python -m pytest -q
