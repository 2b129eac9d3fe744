#!/usr/bin/env bash
# Rollout benchmarks (issue 19), the daemon against `sfn-operator sandbox` running as its own process.
#  (a) alarm -> roll back: N machines (default 100), each with a Canary alias (10 %, a one-hour bake)
#      watched by its own alarm. Once every canary is live, for ROLLBACKS of them (default 50), one
#      after another: SetAlarmState ALARM, then poll DescribeStateMachineAlias every ~10 ms until the
#      alias routes 100 % to version 1 again; prints p50/p90/p99/max against the 2 s goal.
#  (b) alarm reads while the N rollouts are in flight: DescribeAlarms calls and Step Functions calls
#      per second over WATCH_SECS (default 100) seconds, from the sandbox's own request counts; the
#      peer is the naive plan (each machine polls its own alarms: N calls per look). The window also
#      lets the client-side quota buckets refill after the burst of N canaries (ListTagsForResource
#      and TagResource refill at 1/s, as on AWS): a roll back reads the machine's tags and writes its
#      progress tag, and right after such a burst each waits for a token.
# Usage: BIN=path/to/sfn-operator bench/rollout.sh [N] [ROLLBACKS] [WATCH_SECS]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release/sfn-operator}"
N="${1:-100}"
ROLLBACKS="${2:-50}"
WATCH_SECS="${3:-100}"
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
SB_PORT="$(free_port)"
"$BIN" sandbox --listen "127.0.0.1:$SB_PORT" -q &
PIDS+=($!)
SB="http://127.0.0.1:$SB_PORT"
for _ in $(seq 300); do curl -sf "$SB/_sandbox/requests" >/dev/null && break; sleep 0.1; done

mkdir -p "$WORK/manifests"
write_manifests() { # result
  "$PY" - "$WORK/manifests" "$N" "$1" <<'PY'
import os, sys
d, n, result = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    text = f"""apiVersion: sfn-operator.dev/v1alpha1
kind: StateMachine
metadata:
  name: m{i}
spec:
  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole
  definition:
    StartAt: P
    States:
      P: {{Type: Pass, Result: {result}, End: true}}
  aliases:
    - name: live
      rollout: {{type: Canary, percent: 10, interval: 1h, alarms: [alarm-{i}]}}
"""
    tmp = os.path.join(d, f".m{i}.yaml.tmp")
    open(tmp, "w").write(text)
    os.replace(tmp, os.path.join(d, f"m{i}.yaml"))
PY
}

DAEMON_PORT="$(free_port)"
write_manifests 1
"$PY" - "$SB" "$N" <<'PY'
import json, sys, urllib.request
sb, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    body = {"AlarmName": f"alarm-{i}", "Namespace": "AWS/States", "MetricName": "ExecutionsFailed",
            "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold"}
    req = urllib.request.Request(sb + "/", json.dumps(body).encode(), {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "GraniteServiceVersion20100801.PutMetricAlarm"})
    urllib.request.urlopen(req).read()
PY
"$BIN" reconcile "$WORK/manifests" --endpoint-url "$SB" --region us-east-1 \
  --listen "127.0.0.1:$DAEMON_PORT" --lock-file "$WORK/lock" ${DAEMON_LOG:+-v} 2>"${DAEMON_LOG:-/dev/null}" &
PIDS+=($!)

"$PY" - "$SB" "$N" "$ROLLBACKS" "$WATCH_SECS" "$WORK/manifests" <<'PY' || exit 1
import json, os, sys, time, urllib.request
sb, n, rollbacks, watch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
manifests = sys.argv[5]

def call(target, body):
    req = urllib.request.Request(sb + "/", json.dumps(body).encode(), {
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target})
    try:
        return json.loads(urllib.request.urlopen(req).read() or b"{}")
    except urllib.error.HTTPError as e:
        return {"__error": e.read().decode()}

def routing(i):
    a = call("AWSStepFunctions.DescribeStateMachineAlias",
             {"stateMachineAliasArn": f"arn:aws:states:us-east-1:123456789012:stateMachine:m{i}:live"})
    return sorted(((int(r["stateMachineVersionArn"].rsplit(":", 1)[1]), r["weight"])
                   for r in a.get("routingConfiguration", [])), key=lambda x: -x[1])

def wait_all(want, what, limit=600):
    start = time.time()
    pending = set(range(n))
    while pending:
        pending = {i for i in pending if routing(i) != want}
        if time.time() - start > limit:
            sys.exit(f"timeout waiting for {what}: {len(pending)} left")
        if pending:
            time.sleep(0.2)
    return time.time() - start

def requests():
    return json.loads(urllib.request.urlopen(sb + "/_sandbox/requests").read())

wait_all([(1, 100)], "version 1 on every alias")
for i in range(n):  # the second definition: every machine starts its canary
    text = open(os.path.join(manifests, f"m{i}.yaml")).read().replace("Result: 1,", "Result: 2,")
    open(os.path.join(manifests, f".m{i}.tmp"), "w").write(text)
    os.replace(os.path.join(manifests, f".m{i}.tmp"), os.path.join(manifests, f"m{i}.yaml"))
took = wait_all([(1, 90), (2, 10)], "every canary")
print(f"{n} canaries live {took:.1f} s after the edit", file=sys.stderr)
time.sleep(2)  # let the passes of the edit finish; then watch

# (b) the watch alone: N rollouts in flight, nothing due for an hour.
r0, t0 = requests(), time.time()
time.sleep(watch)
r1, t1 = requests(), time.time()
secs = t1 - t0
described = r1.get("cloudwatch", {}).get("DescribeAlarms", 0) - r0.get("cloudwatch", {}).get("DescribeAlarms", 0)
sfn = sum(r1.get("sfn", {}).values()) - sum(r0.get("sfn", {}).values())
batches = -(-n // 100)  # DescribeAlarms takes 100 names

# (a) roll backs, one after another.
lat = []
for i in range(rollbacks):
    call("GraniteServiceVersion20100801.SetAlarmState",
         {"AlarmName": f"alarm-{i}", "StateValue": "ALARM", "StateReason": "bench"})
    start = time.time()
    while routing(i) != [(1, 100)]:
        if time.time() - start > 60:
            sys.exit(f"m{i} not rolled back within 60 s")
        time.sleep(0.01)
    lat.append(time.time() - start)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print()
print(f"| alarm -> roll back ({len(lat)} roll backs, {n} rollouts in flight) | seconds |")
print("|---|---|")
for name, p in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
    print(f"| {name} | {q(p):.2f} |")
print(f"| max | {lat[-1]:.2f} |")
print(f"| p99 / 2 s goal | {q(0.99) / 2:.2f}x |")
print()
rate = described / secs
print(f"| {n} rollouts in flight, {secs:.1f} s watched | calls per second | per 100 alarms per look (1 s) |")
print("|---|---|---|")
print(f"| DescribeAlarms (the daemon's watch) | {rate:.2f} | {rate / batches:.2f} |")
print(f"| DescribeAlarms (each machine polling its own every 5 s) | {n / 5:.2f} | {(n / 5) / batches:.2f} |")
print(f"| ratio, per-machine polling / watch | {(n / 5) / max(rate, 1e-9):.1f}x | |")
print(f"| Step Functions calls (nothing due) | {sfn / secs:.2f} | |")
PY
