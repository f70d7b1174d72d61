#!/usr/bin/env bash
# The test suite: starts the storage servers (contrib/test-servers.sh), runs `cargo test`,
# stops the servers. Arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
contrib/test-servers.sh start
trap 'contrib/test-servers.sh stop quietly' EXIT
cargo test --locked "$@"
