#!/usr/bin/env bash
# Peak memory and output of `inspect` on a crafted archive of 2 million distinct key prefixes
# (about 4.4 MB, built with archive::build + archive::inspect::encode_state by the ignored
# test edge_output::write_the_crafted_archive_for_the_rss_benchmark). Before the bound, such
# an archive drove inspect to 291 MB and 2 million lines; the bound (archive::inspect:
# TRACKED_PREFIXES, PREFIX_LIMIT, SHOWN_PREFIXES) keeps it to a few MiB and ~60 lines. Fails
# when the peak RSS reaches 32 MiB.
#
#   contrib/inspect-rss.sh [--release]
#
# The default measures the debug build the tests use (same data structures, larger code);
# --release builds the release binary first (minutes on a small machine).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
if [ "${1:-}" = "--release" ]; then
  profile=release
  cargo build -q --locked --release
else
  cargo build -q --locked
fi
bin=target/$profile/vault-raft-snapshot
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
archive=$work/crafted.snap

VRS_CRAFTED_ARCHIVE=$archive cargo test -q --locked --test integration -- \
  --ignored --exact edge_output::write_the_crafted_archive_for_the_rss_benchmark >/dev/null
echo "archive: $(stat -c %s "$archive") bytes"

/usr/bin/time -v "$bin" inspect "$archive" >"$work/out" 2>"$work/time"
rss_kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
echo "inspect ($profile): peak RSS ${rss_kib} KiB ($((rss_kib / 1024)) MiB), $(wc -l <"$work/out") lines of output"
tail -3 "$work/out"
if [ "$rss_kib" -ge $((32 * 1024)) ]; then
  echo "FAIL: peak RSS is 32 MiB or more" >&2
  exit 1
fi
