#!/usr/bin/env bash
# S3 client comparison (issue 19): the upload of the same snapshot by our agent (rust-s3 for
# the control requests, our own parallel UploadPart over ureq), by object_store's S3 client
# (contrib/object-store-s3-bench, WriteMultipart with bounded concurrency; without and with
# an x-amz-checksum-crc64nvme header per part) and by `aws s3 cp`
# (the aws CLI's defaults), side by side in one run, for moto and s3s-fs (which checks SigV4
# signatures) over plain HTTP and moto over TLS; 4 and 8 parts of 8 MiB in flight. Uses the
# servers, stand-in and measure() of contrib/s3-bench.sh (on other ports, so both can run).
#
#   contrib/s3-bench-object-store.sh [--size 1G] [--runs 1]
#
# Our agent has no upload-only command: its upload is measured as `once` to S3 minus `once`
# to a local directory (the same download and verification, then a hard link), which is
# printed as "agent upload". Needs what contrib/s3-bench.sh needs; builds both release binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
OS_SIZE=1G
OS_RUNS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --size) OS_SIZE=$2; shift 2 ;;
    --runs) OS_RUNS=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
(cd contrib/object-store-s3-bench && cargo build --quiet --release)
OS_TOOL=${CARGO_TARGET_DIR:-$PWD/contrib/object-store-s3-bench/target}/release/object-store-s3-bench
export VPORT=${VPORT:-18421} MOTO_PORT=${MOTO_PORT:-18422} S3S_PORT=${S3S_PORT:-18423} TLS_PORT=${TLS_PORT:-18424}
S3_BENCH_SETUP_ONLY=1
# shellcheck source=contrib/s3-bench.sh
source contrib/s3-bench.sh --size "$OS_SIZE" --runs "$OS_RUNS"

agent_config() { # file endpoint concurrency part-size
  cat > "$1" <<JSON
{"addr": "http://127.0.0.1:$VPORT", "vault_auth_method": "token", "temp_dir": "$WORK/tmp",
 "aws_storage": {"s3_bucket": "bench", "s3_endpoint": "$2", "s3_force_path_style": true,
   "access_key_id": "env://AWS_ACCESS_KEY_ID", "secret_access_key": "env://AWS_SECRET_ACCESS_KEY",
   "s3_key_prefix": "once", "s3_upload_concurrency": $3, "s3_part_size": "$4"}}
JSON
}
# The same download and verification as `once` to S3, then a hard link into a directory on
# the same filesystem: what `once` costs without the upload.
cat > "$WORK/local.json" <<JSON
{"addr": "http://127.0.0.1:$VPORT", "vault_auth_method": "token", "temp_dir": "$WORK/tmp",
 "local_storage": {"path": "$WORK/local"}}
JSON
mkdir -p "$WORK/local"
# moto keeps every object in memory and s3s-fs on the bench's disk: empty the bucket after
# each upload (not timed).
empty_bucket() { aws --endpoint-url "$1" s3 rm --quiet --recursive s3://bench/ > /dev/null; }

echo "== S3 client comparison: $(nproc) cores, $OS_SIZE, $OS_RUNS runs, $(date -u +%Y-%m-%dT%H:%MZ)"
for server in moto s3s-fs moto-tls; do
  case $server in
    moto) endpoint=http://127.0.0.1:$MOTO_PORT ;;
    s3s-fs) endpoint=http://127.0.0.1:$S3S_PORT ;;
    moto-tls) endpoint=https://127.0.0.1:$TLS_PORT ;;
  esac
  agent_config "$WORK/c4.json" "$endpoint" 4 8MiB
  agent_config "$WORK/c8.json" "$endpoint" 8 8MiB
  : > "$WORK/results"
  for _ in $(seq 1 "$OS_RUNS"); do
    measure download bash -c curl_download
    measure aws-s3-cp aws --endpoint-url "$endpoint" s3 cp --quiet "$WORK/download.snap" s3://bench/cli.snap
    empty_bucket "$endpoint"
    for c in 4 8; do
      measure "object_store-${c}x8" "$OS_TOOL" --endpoint "$endpoint" --bucket bench \
        --key "os-$c.snap" --file "$WORK/download.snap" --concurrency "$c" --part-size 8MiB
      empty_bucket "$endpoint"
    done
    # With per-part integrity (object_store sends no Content-MD5; the cheapest header it has).
    measure object_store-4x8-crc64 "$OS_TOOL" --endpoint "$endpoint" --bucket bench \
      --key os-crc.snap --file "$WORK/download.snap" --concurrency 4 --part-size 8MiB \
      --checksum crc64nvme
    empty_bucket "$endpoint"
    rm -f "$WORK/download.snap"
    rm -rf "${WORK:?}/local/"*
    VAULT_TOKEN=$TOKEN measure once-local "$AGENT" --config "$WORK/local.json" once
    rm -rf "${WORK:?}/local/"*
    for c in 4 8; do
      VAULT_TOKEN=$TOKEN measure "once-${c}x8" "$AGENT" --config "$WORK/c$c.json" once
      empty_bucket "$endpoint"
    done
  done
  echo "-- $server ($endpoint)"
  python3 - "$WORK/results" "$OS_SIZE" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
size = sys.argv[2]
gib = float(size[:-1]) * {"K": 2**-20, "M": 2**-10, "G": 1}[size[-1]] if size[-1] in "KMG" else float(size) / 2**30
def med(label, i):
    return statistics.median(float(r[i]) for r in rows if r[0] == label)
def cpu(label):
    return statistics.median(float(r[2]) + float(r[3]) for r in rows if r[0] == label)
print(f"{'':22} {'wall s':>8} {'CPU s/GiB':>10} {'peak RSS MiB':>13}")
for label in ("download", "aws-s3-cp", "object_store-4x8", "object_store-8x8", "object_store-4x8-crc64",
              "once-local", "once-4x8", "once-8x8"):
    print(f"{label:22} {med(label, 1):8.2f} {cpu(label) / gib:10.2f} {med(label, 4) / 1024:13.1f}")
cli = med("aws-s3-cp", 1)
for c in (4, 8):
    up = med(f"once-{c}x8", 1) - med("once-local", 1)
    upcpu = (cpu(f"once-{c}x8") - cpu("once-local")) / gib
    os_ = med(f"object_store-{c}x8", 1)
    print(f"{c} x 8 MiB: agent upload (once - once-local) {up:.2f} s, {upcpu:.2f} CPU s/GiB;"
          f" object_store {os_:.2f} s; agent / object_store {up / os_:.2f};"
          f" agent / aws s3 cp {up / cli:.2f}; object_store / aws s3 cp {os_ / cli:.2f}")
PY
done
