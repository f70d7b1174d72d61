#!/usr/bin/env bash
# Regenerates what comes from the clap definitions and the config key table: the man page,
# the shell completions and README's generated blocks. tests/integration/ops.rs fails while
# any of them is stale.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q --locked
bin=target/debug/vault-raft-snapshot
"$bin" generate man > man/vault-raft-snapshot.1
"$bin" generate completions bash > contrib/completions/vault-raft-snapshot.bash
"$bin" generate completions zsh > contrib/completions/_vault-raft-snapshot
"$bin" generate completions fish > contrib/completions/vault-raft-snapshot.fish
"$bin" generate readme README.md > README.new && mv README.new README.md
