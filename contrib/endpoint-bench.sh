#!/usr/bin/env bash
# Benchmark of `run`'s HTTP endpoint (metrics_listen): response time of GET /metrics and the
# agent's RSS and thread count at N concurrent clients (N = 1, 50, 200), side by side, first
# during a cycle (the download of a --size snapshot from the Vault stand-in), then between
# cycles. Figures only, no pass/fail thresholds; compare rows, not machines.
#
#   contrib/endpoint-bench.sh [--size 1G] [--requests 20] [--clients "1 50 200"] [--debug]
#
# --debug uses debug builds (quicker to build, slower to run: for trying the script).
# Each client opens a connection per request (as Prometheus and the kubelet do) and sends
# --requests requests one after the other. RSS is sampled every 10 ms while the clients run.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=1G
PROFILE=release
REQUESTS=20
CLIENTS="1 50 200"
while [ $# -gt 0 ]; do
  case "$1" in
    --size) SIZE=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --debug) PROFILE=debug; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

# The agent as operators get it (no test-support feature), the stand-in as an example.
release=(--release)
[ "$PROFILE" = debug ] && release=()
cargo build --quiet "${release[@]}" --bin vault-raft-snapshot
cargo build --quiet "${release[@]}" --example vault-stand-in
AGENT=$PWD/target/$PROFILE/vault-raft-snapshot
STANDIN=$PWD/target/$PROFILE/examples/vault-stand-in
PORT=18411
LISTEN=127.0.0.1:18412
TOKEN=bench-token
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/vrs-endpoint-bench.XXXXXX")
STANDIN_PID= RUN_PID=
cleanup() {
  [ -n "$RUN_PID" ] && kill "$RUN_PID" 2>/dev/null || true
  [ -n "$STANDIN_PID" ] && kill "$STANDIN_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/snaps" "$WORK/tmp"
cat > "$WORK/config.json" <<JSON
{"addr": "http://127.0.0.1:$PORT", "vault_auth_method": "token",
 "local_storage": {"path": "$WORK/snaps"}, "temp_dir": "$WORK/tmp", "frequency": "1h",
 "metrics_listen": "$LISTEN"}
JSON

"$STANDIN" --listen "127.0.0.1:$PORT" --state-size "$SIZE" --token "$TOKEN" > "$WORK/standin.log" 2>&1 &
STANDIN_PID=$!
for _ in $(seq 1 1200); do grep -q listening "$WORK/standin.log" && break; sleep 0.1; done
grep -q listening "$WORK/standin.log" || { echo "the stand-in did not start" >&2; exit 1; }

VAULT_TOKEN=$TOKEN "$AGENT" --config "$WORK/config.json" run 2> "$WORK/agent.log" &
RUN_PID=$!

# Prints one row per N: phase, clients, requests, p50/p99/max ms, errors, RSS before, peak
# RSS during, threads before and after.
python3 - "$RUN_PID" "$LISTEN" "$REQUESTS" "$CLIENTS" <<'PY'
import socket, sys, threading, time

pid, listen, requests, clients = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split()
host, port = listen.rsplit(":", 1)
port = int(port)

def proc(field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])

def get(path):
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data

def running():
    text = get("/metrics").decode()
    return any(l == "vault_raft_snapshot_cycle_running 1" for l in text.splitlines())

deadline = time.time() + 60
while True:
    try:
        get("/healthz")
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("the endpoint did not answer")
        time.sleep(0.1)

def round_of(n):
    times, errors = [], [0]
    lock = threading.Lock()
    def client():
        for _ in range(requests):
            t = time.perf_counter()
            try:
                ok = get("/metrics").startswith(b"HTTP/1.1 200 ")
            except OSError:
                ok = False
            took = (time.perf_counter() - t) * 1000
            with lock:
                if ok:
                    times.append(took)
                else:
                    errors[0] += 1
    rss_before, threads_before = proc("VmRSS"), proc("Threads")
    peak = [rss_before]
    done = threading.Event()
    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], proc("VmRSS"))
            time.sleep(0.01)
    sampler = threading.Thread(target=sample)
    sampler.start()
    workers = [threading.Thread(target=client) for _ in range(n)]
    for w in workers: w.start()
    for w in workers: w.join()
    done.set(); sampler.join()
    times.sort()
    q = lambda p: times[min(len(times) - 1, int(p * len(times)))] if times else float("nan")
    return (len(times), q(0.5), q(0.99), times[-1] if times else float("nan"), errors[0],
            rss_before, peak[0], threads_before, proc("Threads"))

print(f"{'phase':<14}{'clients':>8}{'answers':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
      f"{'errors':>8}{'RSS KiB':>10}{'peak KiB':>10}{'threads':>9}")
def report(phase):
    for n in clients:
        a, p50, p99, mx, err, rss, peak, t0, t1 = round_of(int(n))
        print(f"{phase:<14}{n:>8}{a:>9}{p50:>9.2f}{p99:>9.2f}{mx:>9.2f}{err:>8}{rss:>10}{peak:>10}"
              f"{f'{t0}->{t1}':>9}", flush=True)

if running():
    report("during cycle")
    if running():
        print("(the cycle was still running after the last round)")
    else:
        print("(the cycle ended during the rounds: a larger --size keeps it running)")
else:
    print("(the first cycle ended before the first round: a larger --size keeps it running)")
while running():
    time.sleep(0.2)
report("between")
PY
grep -q "Stored\|stored" "$WORK/agent.log" || { echo "agent log:" >&2; tail -5 "$WORK/agent.log" >&2; }
