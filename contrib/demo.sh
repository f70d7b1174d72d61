#!/usr/bin/env bash
# See vault-raft-snapshot work without a Vault: starts the project's Vault stand-in on
# 127.0.0.1, takes two verified snapshots into ./demo-snapshots, shows what retention would
# delete, and prints the status. Run from anywhere: contrib/demo.sh
# (DEMO_DIR=/some/dir puts the snapshots there instead.)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== building the agent and the Vault stand-in (cargo build; the first build takes a few minutes)"
cargo build --quiet --bin vault-raft-snapshot --example vault-stand-in
BIN=$PWD/target/debug/vault-raft-snapshot
OUT=${DEMO_DIR:-$PWD/demo-snapshots}
WORK=$(mktemp -d)
mkdir -p "$OUT"
# Start clean: only the demo's own earlier snapshots are removed, and the demo says so.
EARLIER=$(find "$OUT" -maxdepth 1 -name 'raft_snapshot-*.snap' | wc -l)
if [ "$EARLIER" -gt 0 ]; then
  echo "== removing $EARLIER snapshot(s) an earlier demo left in $OUT"
  rm -f "$OUT"/raft_snapshot-*.snap
fi
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

target/debug/examples/vault-stand-in --listen "127.0.0.1:$PORT" --state-size 4M > "$WORK/vault.log" 2>&1 &
VAULT_PID=$!
trap 'kill $VAULT_PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do grep -q listening "$WORK/vault.log" && break; sleep 0.1; done
echo "== a Vault stand-in: $(cat "$WORK/vault.log")"

cat > "$WORK/snapshot.json" <<JSON
{
  "addr": "http://127.0.0.1:$PORT",
  "role_id": "demo-role-id",
  "secret_id": "demo-secret-id",
  "retain": 0,
  "local_storage": { "path": "$OUT" },
  "metrics_file": "$WORK/vault_raft_snapshot.prom"
}
JSON
echo "== the config ($WORK/snapshot.json):"
cat "$WORK/snapshot.json"

echo; echo "== vault-raft-snapshot once   (first snapshot)"
"$BIN" --config "$WORK/snapshot.json" once
echo; echo "== vault-raft-snapshot once   (second snapshot)"
"$BIN" --config "$WORK/snapshot.json" once

echo; echo "== vault-raft-snapshot verify demo-snapshots/*.snap"
"$BIN" verify "$OUT"/raft_snapshot-*.snap

echo; echo "== vault-raft-snapshot prune --dry-run   (with retain 1: what would go)"
sed 's/"retain": 0/"retain": 1/' "$WORK/snapshot.json" > "$WORK/retain1.json"
"$BIN" --config "$WORK/retain1.json" prune --dry-run

echo; echo "== vault-raft-snapshot status"
"$BIN" --config "$WORK/snapshot.json" status

echo; echo "== what is in $OUT:"
ls -l "$OUT"
echo
echo "Done: two verified snapshots are in $OUT; prune --dry-run deleted nothing."
echo "Delete them with: rm -r $OUT"
