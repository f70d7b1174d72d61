#!/usr/bin/env bash
# The property tests (src/properties.rs) with many more cases than CI runs: the snapshot
# verifier under random mutations, the Go-duration parser and the config loader on arbitrary
# input. No panic, and a mutated snapshot verifies to the original content or is refused.
#
#   contrib/proptest-long.sh [CASES]   (default 20000 per property)
set -euo pipefail
cd "$(dirname "$0")/.."
export PROPTEST_CASES=${1:-20000}
echo "property tests, $PROPTEST_CASES cases each"
time cargo test --release --lib properties -- --test-threads 2
