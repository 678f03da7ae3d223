#!/usr/bin/env bash
# Runs one cargo-fuzz target of infera-core on its committed seed corpus (docs/fuzzing.md):
#
#   rust/core/fuzz/run.sh TARGET [LIBFUZZER_FLAG...]
#
# e.g. `rust/core/fuzz/run.sh read_ipc -max_total_time=30` (what CI runs) or `-runs=1000000` for a
# campaign. Inputs that add coverage go to a scratch corpus (FUZZ_CORPUS, a new temporary folder unless
# set), so the committed seeds stay as they are. A finding (panic, abort, timeout, out-of-memory) is saved
# under rust/core/fuzz/artifacts/TARGET/ and makes the run fail. FUZZ_SANITIZER chooses cargo fuzz's
# sanitizer: none unless set (address for the AddressSanitizer run).
set -euo pipefail
cd "$(dirname "$0")"
target=$1
shift
scratch=${FUZZ_CORPUS:-$(mktemp -d)}
# cargo fuzz passes nightly-only compiler flags; a stable toolchain accepts them with this set.
export RUSTC_BOOTSTRAP=1
# Debug assertions turn integer overflow into a panic, as in `cargo test`, so the target finds it.
exec cargo fuzz run --debug-assertions --sanitizer "${FUZZ_SANITIZER:-none}" "$target" \
    "$scratch" "corpus/$target" -- -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$@"
