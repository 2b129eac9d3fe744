#!/usr/bin/env bash
# Daemon benchmarks (issue 5), against `sfn-operator sandbox` running as its own process (the daemon
# with --no-rate-limits: AWS's quota buckets would pace 1,000 creates at 1/s).
#  (a) change -> live latency: one StateMachine manifest; N times (default 100) rewrite its Pass
#      Result with a new unique value, then poll DescribeStateMachine on the sandbox every ~10 ms
#      until the live definition contains it; prints p50/p90/p99/max (default --debounce 500ms).
#  (a2) the same for an ApiIntegration: the reference system of manifests/; N times rewrite the
#      integration's timeoutInMillis, then poll GetIntegration until the live value is the new one.
#  (b) idle cost: 1,000 StateMachine manifests; after /readyz answers 200, samples utime+stime
#      (/proc/PID/stat) and VmRSS (/proc/PID/status) over IDLE_SECS (default 60) seconds.
# Usage: BIN=path/to/sfn-operator bench/daemon.sh [N] [IDLE_SECS]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release/sfn-operator}"
N="${1:-100}"
IDLE_SECS="${2:-60}"
PY="$(command -v python3)"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
unset AWS_PROFILE AWS_ENDPOINT_URL || true

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url code timeout_s; code "any" = any HTTP answer
  local deadline=$((SECONDS + $3)) c
  while c="$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)"; [ "$c" = 000 ] || { [ "$2" != any ] && [ "$c" != "$2" ]; }; do
    [ $SECONDS -lt $deadline ] || { echo "timeout waiting for $1 -> $2" >&2; return 1; }
    sleep 0.1
  done
}

SB_PORT="$(free_port)"
"$BIN" sandbox --listen "127.0.0.1:$SB_PORT" -q &
PIDS+=($!)
wait_http "http://127.0.0.1:$SB_PORT/" any 30

machine() { # dir name result
  cat > "$1/$2.yaml" <<YAML
apiVersion: sfn-operator.dev/v1alpha1
kind: StateMachine
metadata:
  name: $2
spec:
  name: $2
  roleArn: arn:aws:iam::\${AWS::AccountId}:role/StepFunctionsIamRole
  definition:
    Comment: bench
    StartAt: P
    States:
      P:
        Type: Pass
        Result: "$3"
        End: true
YAML
}

start_daemon() { # dir port
  "$BIN" reconcile "$1" --endpoint-url "http://127.0.0.1:$SB_PORT" --region us-east-1 --no-rate-limits \
    --account-id 123456789012 --listen "127.0.0.1:$2" --lock-file "$1/.lock" -q &
  DAEMON=$!
  PIDS+=($DAEMON)
}

# ---- (a) latency
mkdir -p "$WORK/one"
machine "$WORK/one" latency v-initial
P1="$(free_port)"
start_daemon "$WORK/one" "$P1"
wait_http "http://127.0.0.1:$P1/readyz" 200 60
"$PY" - "$WORK/one/latency.yaml" "$SB_PORT" "$N" <<'PY'
import json, sys, time, urllib.request
path, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
tmpl = open(path).read()
arn = "arn:aws:states:us-east-1:123456789012:stateMachine:latency"
def describe():
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=json.dumps({"stateMachineArn": arn}).encode(),
        headers={"X-Amz-Target": "AWSStepFunctions.DescribeStateMachine", "Content-Type": "application/x-amz-json-1.0"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r).get("definition", "")
assert "v-initial" in describe(), "initial definition not live"
lat, misses = [], 0
for i in range(n):
    val = f"v-{i}-{time.time_ns()}"
    t0 = time.monotonic()
    with open(path, "w") as f:
        f.write(tmpl.replace("v-initial", val))
    while True:
        if val in describe():
            lat.append(time.monotonic() - t0); break
        if time.monotonic() - t0 > 10:
            misses += 1; break
        time.sleep(0.01)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(round(p * (len(lat) - 1))))] * 1000
print(f"latency: n={len(lat)} misses(>10s)={misses} p50={q(.5):.0f} ms p90={q(.9):.0f} ms p99={q(.99):.0f} ms max={lat[-1]*1000:.0f} ms min={lat[0]*1000:.0f} ms")
PY
kill "$DAEMON"; wait "$DAEMON" 2>/dev/null || true

# ---- (a2) latency of an ApiIntegration edit
mkdir -p "$WORK/api"
cp manifests/state-machine.yaml manifests/parallel-processing.asl.yaml manifests/api.yaml "$WORK/api/"
"$PY" - "$WORK/api/api.yaml" <<'PY'
import sys
p = sys.argv[1]
t = open(p).read()
open(p, "w").write(t.replace("    integrationHttpMethod: POST\n", "    integrationHttpMethod: POST\n    timeoutInMillis: 1000\n"))
PY
P3="$(free_port)"
start_daemon "$WORK/api" "$P3"
wait_http "http://127.0.0.1:$P3/readyz" 200 60
"$PY" - "$WORK/api/api.yaml" "$SB_PORT" "$N" <<'PY'
import json, sys, time, urllib.request
path, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
tmpl = open(path).read()
base = f"http://127.0.0.1:{port}"
get = lambda u: json.load(urllib.request.urlopen(base + u, timeout=5))
api = get("/restapis")["item"][0]["id"]
res = next(r["id"] for r in get(f"/restapis/{api}/resources")["item"] if r["path"] == "/execution")
timeout = lambda: get(f"/restapis/{api}/resources/{res}/methods/POST/integration")["timeoutInMillis"]
assert timeout() == 1000, "initial integration not live"
lat, misses = [], 0
for i in range(n):
    val = 2000 + i
    t0 = time.monotonic()
    with open(path, "w") as f:
        f.write(tmpl.replace("timeoutInMillis: 1000", f"timeoutInMillis: {val}"))
    while True:
        if timeout() == val:
            lat.append(time.monotonic() - t0); break
        if time.monotonic() - t0 > 10:
            misses += 1; break
        time.sleep(0.01)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(round(p * (len(lat) - 1))))] * 1000
print(f"ApiIntegration latency: n={len(lat)} misses(>10s)={misses} p50={q(.5):.0f} ms p90={q(.9):.0f} ms p99={q(.99):.0f} ms max={lat[-1]*1000:.0f} ms min={lat[0]*1000:.0f} ms")
PY
kill "$DAEMON"; wait "$DAEMON" 2>/dev/null || true

# ---- (b) idle
mkdir -p "$WORK/many"
for i in $(seq 0 999); do machine "$WORK/many" "idle-$i" "x"; done
P2="$(free_port)"
t0="$(date +%s%N)"
start_daemon "$WORK/many" "$P2"
wait_http "http://127.0.0.1:$P2/readyz" 200 600
live="$(curl -s -X POST "http://127.0.0.1:$SB_PORT/" -H 'X-Amz-Target: AWSStepFunctions.ListStateMachines' \
  -H 'Content-Type: application/x-amz-json-1.0' -d '{"maxResults":1000}' | "$PY" -c 'import json,sys; print(sum(m["name"].startswith("idle-") for m in json.load(sys.stdin)["stateMachines"]))')"
echo "1000 machines: /readyz 200 after $(( ($(date +%s%N) - t0) / 1000000 )) ms; idle-* machines live (first ListStateMachines page of 1000): $live"
sleep 2   # let the first pass's stragglers settle before sampling
TCK="$(getconf CLK_TCK)"
cpu() { awk '{print $14 + $15}' "/proc/$DAEMON/stat"; }
rss() { awk '/VmRSS/{print $2}' "/proc/$DAEMON/status"; }
c0="$(cpu)"; s0="$(date +%s%N)"; peak="$(rss)"
end=$((SECONDS + IDLE_SECS))
while [ $SECONDS -lt $end ]; do
  r="$(rss)"; [ "$r" -gt "$peak" ] && peak="$r"
  sleep 1
done
c1="$(cpu)"; s1="$(date +%s%N)"
awk -v c="$((c1 - c0))" -v t="$TCK" -v ns="$((s1 - s0))" -v pk="$peak" \
  'BEGIN { printf "idle: %.1f s, CPU %.2f %% (%d ticks), peak VmRSS %.1f MB\n", ns/1e9, 100*c/t/(ns/1e9), c, pk/1024 }'
