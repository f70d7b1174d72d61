#!/usr/bin/env bash
# Soak benchmark: `run` at frequency 1s against the Vault stand-in for N cycles (default
# 1000), with local storage and retain 5. Samples the agent's RSS and open file descriptors
# after every cycle from /proc and prints the first, the largest and the last of each: a leak
# shows as a last far above the first. A benchmark, not a test: it takes N seconds.
#
#   contrib/soak.sh [CYCLES]
set -euo pipefail
cd "$(dirname "$0")/.."
CYCLES=${1:-1000}
PORT=18299
TOKEN=soak-root-token
# Two builds: an example turns on the dev-dependencies, and with them the test-support
# feature (the test doubles) for everything built alongside it. The agent measured here is
# the one operators get, from a build without it.
cargo build --quiet --release --bin vault-raft-snapshot
cargo build --quiet --release --example vault-stand-in
WORK=$(mktemp -d)
STANDIN_PID=
AGENT_PID=
cleanup() {
  [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null || true
  [ -n "$STANDIN_PID" ] && kill "$STANDIN_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/snaps" "$WORK/tmp"
target/release/examples/vault-stand-in --listen "127.0.0.1:$PORT" --state-size 1M --token "$TOKEN" \
  > "$WORK/standin.log" 2>&1 &
STANDIN_PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/v1/sys/leader" && break; sleep 0.1; done
cat > "$WORK/config.json" <<JSON
{"addr": "http://127.0.0.1:$PORT", "vault_auth_method": "token", "frequency": "1s", "retain": 5,
 "temp_dir": "$WORK/tmp", "local_storage": {"path": "$WORK/snaps"},
 "metrics_file": "$WORK/vault_raft_snapshot.prom"}
JSON
chmod 600 "$WORK/config.json"
VAULT_TOKEN=$TOKEN target/release/vault-raft-snapshot run -c "$WORK/config.json" 2> "$WORK/agent.log" &
AGENT_PID=$!
echo "soak: $CYCLES cycles of run at frequency 1s (1 MiB snapshots, local storage, retain 5)"
printf 'cycle rss_kib fds\n' > "$WORK/samples"
seen=0
while [ "$seen" -lt "$CYCLES" ]; do
  sleep 0.5
  kill -0 "$AGENT_PID" 2>/dev/null || { echo "the agent exited:"; tail -5 "$WORK/agent.log"; exit 1; }
  now=$(grep -c "Verified snapshot" "$WORK/agent.log" || true)
  if [ "$now" -gt "$seen" ]; then
    seen=$now
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$AGENT_PID/status")
    fds=$(ls "/proc/$AGENT_PID/fd" | wc -l)
    printf '%s %s %s\n' "$seen" "$rss" "$fds" >> "$WORK/samples"
  fi
done
errors=$(grep -c "ERROR" "$WORK/agent.log" || true)
awk -v errors="$errors" 'NR == 2 { first_rss = $2; first_fds = $3 }
  NR > 1 { if ($2 > max_rss) max_rss = $2; if ($3 > max_fds) max_fds = $3; last_rss = $2; last_fds = $3; n = $1 }
  END {
    printf "cycles: %d, ERROR lines: %d\n", n, errors
    printf "RSS KiB: first %d, max %d, last %d\n", first_rss, max_rss, last_rss
    printf "open fds: first %d, max %d, last %d\n", first_fds, max_fds, last_fds
  }' "$WORK/samples"
echo "snapshots held: $(ls "$WORK/snaps" | wc -l) (retain 5); staging files left: $(ls -A "$WORK/tmp" | wc -l)"
