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

# tests/report/test_browser.py opens a report in headless Chromium to see its figures drawn; a fresh machine
# rarely has a browser, and the OS package is one that runs headless with nothing else. Installed only when
# missing and apt-get exists (as root, or with sudo that needs no password); otherwise that test skips and
# says why.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null && command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium; } \
        || echo "could not install chromium: the browser test of the report will skip" >&2
fi
python -m pytest -q

# --- Rust fuzz targets (cargo-fuzz, docs/fuzzing.md) ------------------------------------------------------
# Each libFuzzer target of the core runs 30 s on its committed seed corpus; a finding fails the build.
# cargo fuzz needs nightly compiler flags, which run.sh enables on the stable toolchain.
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
cargo fmt --manifest-path rust/core/fuzz/Cargo.toml -- --check
cargo clippy --manifest-path rust/core/fuzz/Cargo.toml --all-targets -- -D warnings
for target in read_ipc plan_simulate; do
    rust/core/fuzz/run.sh "$target" -max_total_time=30
done
# --- end of the Rust fuzz targets --------------------------------------------------------------------------
