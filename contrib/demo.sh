#!/usr/bin/env bash
# See vault-raft-snapshot work without a Vault: starts the project's Vault stand-in on
# 127.0.0.1, takes two verified snapshots into ./demo-snapshots, shows what retention would
# delete, and prints the status. Run from anywhere: contrib/demo.sh
# (DEMO_DIR=/some/dir puts the snapshots there instead.)
#
# The demo only ever deletes what it made: the snapshots it takes are listed in
# $DEMO_DIR/.vault-raft-snapshot-demo, the next run removes those names and no others, and a
# directory that holds snapshots the demo did not make (a real backup directory) is refused.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${DEMO_DIR:-$PWD/demo-snapshots}
MARK=.vault-raft-snapshot-demo
mkdir -p "$OUT"
if [ -f "$OUT/$MARK" ]; then
  # An earlier demo's directory: remove the snapshots it recorded, by exact name only.
  REMOVED=0
  while IFS= read -r name; do
    if [[ "$name" =~ ^raft_snapshot-[0-9]+\.snap$ ]] && [ -f "$OUT/$name" ]; then
      rm -f -- "$OUT/$name"
      REMOVED=$((REMOVED + 1))
    fi
  done < "$OUT/$MARK"
  [ "$REMOVED" -gt 0 ] && echo "== removed the $REMOVED snapshot(s) an earlier demo left in $OUT"
  : > "$OUT/$MARK"
fi
FOREIGN=$(find "$OUT" -maxdepth 1 -name 'raft_snapshot-*.snap' | wc -l)
if [ "$FOREIGN" -gt 0 ]; then
  echo "$OUT holds $FOREIGN snapshot(s) that this demo did not make; the demo changes nothing" \
    "there. Point DEMO_DIR at an empty or new directory." >&2
  exit 1
fi
touch "$OUT/$MARK"

echo "== building the agent and the Vault stand-in (cargo build; the first build takes a few minutes)"
cargo build --quiet --bin vault-raft-snapshot --example vault-stand-in
BIN=$PWD/target/debug/vault-raft-snapshot
WORK=$(mktemp -d)
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
# Every snapshot here is the demo's (it refused a directory with others): record them.
(cd "$OUT" && ls -1 raft_snapshot-*.snap) > "$OUT/$MARK"

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
echo "They are listed in $OUT/$MARK; the next demo run replaces them, and touches nothing else."
