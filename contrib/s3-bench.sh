#!/usr/bin/env bash
# S3 benchmark: `once` to an S3 server against curl (download from the Vault stand-in, then one
# `curl --aws-sigv4` PUT of the same bytes with UNSIGNED-PAYLOAD), and the upload alone against
# `aws s3 cp` (the aws CLI's defaults), for moto and for s3s-fs (which checks SigV4
# signatures) over plain HTTP, and moto over TLS (s3s-fs has no TLS listener). Prints wall time, the ratio, peak RSS and CPU seconds per GiB.
#
#   contrib/s3-bench.sh [--size 1G] [--runs 3] [--concurrency N] [--part-size 8MiB]
#
# Needs (bench only, not installed by .ci/run): moto_server and aws (PyPI `moto[server]`,
# `awscli`, e.g. in a venv), s3s-fs (`cargo install s3s-fs --features binary`; set S3S_FS to
# its path if it is not on PATH), curl >= 7.75, GNU time. Builds the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=1G
RUNS=3
CONCURRENCY=
PART_SIZE=
while [ $# -gt 0 ]; do
  case "$1" in
    --size) SIZE=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --part-size) PART_SIZE=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
# The test servers' moto (contrib/test-servers.sh) when there is one: rust-s3 0.38 refuses
# the <CompleteMultipartUploadResponse> answer of some other moto releases.
[ -x .test-servers/venv/bin/moto_server ] && PATH=$PWD/.test-servers/venv/bin:$PATH
S3S_FS=${S3S_FS:-$(command -v s3s-fs || true)}
for tool in moto_server aws curl openssl /usr/bin/time "$S3S_FS"; do
  command -v "$tool" > /dev/null || { echo "missing $tool (see --help)" >&2; exit 2; }
done

cargo build --quiet --release --bin vault-raft-snapshot --example vault-stand-in
AGENT=${AGENT:-$PWD/target/release/vault-raft-snapshot}
STANDIN=$PWD/target/release/examples/vault-stand-in
TOKEN=bench-token
# Overridable so that a second bench (contrib/s3-bench-object-store.sh) can run beside this one.
VPORT=${VPORT:-18411} MOTO_PORT=${MOTO_PORT:-18412} S3S_PORT=${S3S_PORT:-18413} TLS_PORT=${TLS_PORT:-18414}
export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret AWS_DEFAULT_REGION=us-east-1
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/vrs-s3-bench.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/tmp" "$WORK/s3s/bench"

wait_for() { # log-file pattern
  for _ in $(seq 1 1200); do grep -q "$2" "$1" 2> /dev/null && return; sleep 0.1; done
  echo "$1 did not say $2" >&2; cat "$1" >&2; exit 1
}
"$STANDIN" --listen "127.0.0.1:$VPORT" --state-size "$SIZE" --token "$TOKEN" > "$WORK/standin.log" 2>&1 &
PIDS+=($!)
moto_server -p "$MOTO_PORT" > "$WORK/moto.log" 2>&1 &
PIDS+=($!)
"$S3S_FS" --host 127.0.0.1 --port "$S3S_PORT" --access-key "$AWS_ACCESS_KEY_ID" \
  --secret-key "$AWS_SECRET_ACCESS_KEY" "$WORK/s3s" > "$WORK/s3s.log" 2>&1 &
PIDS+=($!)
# moto again over TLS, with a certificate of a throw-away CA that the agent trusts through
# SSL_CERT_FILE (curl through --cacert, aws through --ca-bundle).
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=bench-ca -keyout "$WORK/ca.key" \
  -out "$WORK/ca.pem" 2> /dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$WORK/tls.key" \
  -out "$WORK/tls.csr" 2> /dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > "$WORK/tls.ext"
openssl x509 -req -in "$WORK/tls.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
  -days 1 -extfile "$WORK/tls.ext" -out "$WORK/tls.pem" 2> /dev/null
(cd "$WORK" && exec moto_server -p "$TLS_PORT" -c "$WORK/tls.pem" -k "$WORK/tls.key") > "$WORK/moto-tls.log" 2>&1 &
PIDS+=($!)
export SSL_CERT_FILE=$WORK/ca.pem AWS_CA_BUNDLE=$WORK/ca.pem CURL_CA_BUNDLE=$WORK/ca.pem
wait_for "$WORK/standin.log" listening
wait_for "$WORK/moto.log" Running
sleep 1
aws --endpoint-url "http://127.0.0.1:$MOTO_PORT" s3 mb s3://bench > /dev/null
wait_for "$WORK/moto-tls.log" Running
aws --endpoint-url "https://127.0.0.1:$TLS_PORT" s3 mb s3://bench > /dev/null

measure() { # label command...
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.out" "$@" > /dev/null 2> "$WORK/cmd.err" || {
    echo "$label failed:" >&2; cat "$WORK/cmd.err" >&2; exit 1; }
  echo "$label $(cat "$WORK/time.out")" >> "$WORK/results"
}

curl_download() {
  curl -sf -H "X-Vault-Token: $TOKEN" -o "$WORK/download.snap" \
    "http://127.0.0.1:$VPORT/v1/sys/storage/raft/snapshot"
}
curl_put() { # endpoint
  curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$WORK/download.snap" "$1/bench/curl.snap"
}
export -f curl_download curl_put
export WORK TOKEN VPORT

config() { # endpoint
  local extra=""
  [ -n "$CONCURRENCY" ] && extra="$extra, \"s3_upload_concurrency\": $CONCURRENCY"
  [ -n "$PART_SIZE" ] && extra="$extra, \"s3_part_size\": \"$PART_SIZE\""
  cat > "$WORK/config.json" <<JSON
{"addr": "http://127.0.0.1:$VPORT", "vault_auth_method": "token", "temp_dir": "$WORK/tmp",
 "aws_storage": {"s3_bucket": "bench", "s3_endpoint": "$1", "s3_force_path_style": true,
   "access_key_id": "env://AWS_ACCESS_KEY_ID", "secret_access_key": "env://AWS_SECRET_ACCESS_KEY",
   "s3_key_prefix": "once"$extra}}
JSON
}

# contrib/s3-bench-object-store.sh sources this file for the servers, the stand-in and
# measure(), and runs its own measurements.
[ -n "${S3_BENCH_SETUP_ONLY:-}" ] && return 0

echo "== S3 benchmark: $(nproc) cores, $SIZE, $RUNS runs, $(date -u +%Y-%m-%dT%H:%MZ)," \
  "concurrency ${CONCURRENCY:-default}, part size ${PART_SIZE:-default}"
for server in moto s3s-fs moto-tls; do
  case $server in
    moto) endpoint=http://127.0.0.1:$MOTO_PORT ;;
    s3s-fs) endpoint=http://127.0.0.1:$S3S_PORT ;;
    moto-tls) endpoint=https://127.0.0.1:$TLS_PORT ;;
  esac
  config "$endpoint"
  : > "$WORK/results"
  for _ in $(seq 1 "$RUNS"); do
    measure download bash -c curl_download
    measure curl-put bash -c "curl_put $endpoint"
    measure aws-s3-cp aws --endpoint-url "$endpoint" s3 cp --quiet "$WORK/download.snap" s3://bench/cli.snap
    rm -f "$WORK/download.snap"
    VAULT_TOKEN=$TOKEN measure once "$AGENT" --config "$WORK/config.json" once
  done
  echo "-- $server ($endpoint)"
  python3 - "$WORK/results" "$SIZE" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
size = sys.argv[2]
gib = float(size[:-1]) * {"K": 2**-20, "M": 2**-10, "G": 1}[size[-1]] if size[-1] in "KMG" else float(size) / 2**30
def med(label, i):
    return statistics.median(float(r[i]) for r in rows if r[0] == label)
def cpu(label):
    return statistics.median(float(r[2]) + float(r[3]) for r in rows if r[0] == label)
print(f"{'':10} {'wall s':>8} {'CPU s/GiB':>10} {'peak RSS MiB':>13}")
for label in ("download", "curl-put", "aws-s3-cp", "once"):
    print(f"{label:10} {med(label, 1):8.2f} {cpu(label) / gib:10.2f} {med(label, 4) / 1024:13.1f}")
base = med("download", 1) + med("curl-put", 1)
print(f"once / (curl download + curl PUT): {med('once', 1) / base:.2f}  (target <= 1.5)")
print(f"once / (curl download + aws s3 cp): {med('once', 1) / (med('download', 1) + med('aws-s3-cp', 1)):.2f}"
      "  (upload alone vs aws s3 cp, target <= 1.0)")
PY
done
