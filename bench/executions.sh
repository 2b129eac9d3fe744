#!/usr/bin/env bash
# Executions/s and latency of the reference system in the sandbox (StartSyncExecution, the invoke
# URL) and of the same Parallel machine with Pass states in place of the Lambda tasks, sandbox vs
# moto's executor (POST /moto-api/config {"stepfunctions": {"execute_state_machine": true}}), same run.
# Usage: SFN_OPERATOR_PEERS_VENV=.venv-peers bench/executions.sh [seconds] [connections]
# Needs: wrk, python3, a release build (target/release/sfn-operator or $SFN_OPERATOR_BIN).
set -euo pipefail
DUR=${1:-10}
CONN=${2:-32}
BIN=${SFN_OPERATOR_BIN:-${CARGO_TARGET_DIR:-target}/release/sfn-operator}
VENV=${SFN_OPERATOR_PEERS_VENV:?set SFN_OPERATOR_PEERS_VENV}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
TMP=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SB_PORT=$(free_port); MOTO_PORT=$(free_port)
"$BIN" sandbox --listen 127.0.0.1:$SB_PORT --functions "$ROOT/manifests/functions.json" >/dev/null 2>&1 & SB_PID=$!
"$VENV/bin/moto_server" -H 127.0.0.1 -p $MOTO_PORT >/dev/null 2>&1 & MOTO_PID=$!
trap 'kill $SB_PID $MOTO_PID 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 300); do curl -sf http://127.0.0.1:$MOTO_PORT/moto-api/ >/dev/null && curl -sf http://127.0.0.1:$SB_PORT/_sandbox/requests >/dev/null && break; sleep 0.1; done
curl -sf -X POST http://127.0.0.1:$MOTO_PORT/moto-api/config -d '{"stepfunctions": {"execute_state_machine": true}}' >/dev/null

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
SB=http://127.0.0.1:$SB_PORT
"$BIN" reconcile --once --endpoint-url "$SB" "$ROOT/manifests" >/dev/null
API=$("$VENV/bin/aws" --endpoint-url "$SB" apigateway get-rest-apis --output text \
  --query "items[?name=='API Gateway State Machine integration'].id")
REF=arn:aws:states:us-east-1:123456789012:stateMachine:ParallelProcessingMachine
INPUT='{"values": [3, 1, 2]}'

# The reference machine with each Lambda task replaced by a Pass state whose Result is what the
# function answers (same Parallel, same ResultSelector-shaped output), for the moto comparison.
PASS_DEF=$(python3 - <<'PY'
import json
def branch(name, payload):
    return {"StartAt": name, "States": {name: {"Type": "Pass", "Result": payload, "End": True}}}
print(json.dumps({"StartAt": "Parallel", "States": {"Parallel": {"Type": "Parallel", "End": True, "Branches": [
    branch("SumValues", {"sum": 6}), branch("MaxMinValues", {"max": 3, "min": 1}), branch("AverageValues", {"avg": 2})]}}}))
PY
)
create() { "$VENV/bin/aws" --endpoint-url "$1" stepfunctions create-state-machine --name "$2" --type "$3" \
  --definition "$PASS_DEF" --role-arn arn:aws:iam::123456789012:role/StepFunctionsIamRole --query stateMachineArn --output text; }
SB_PASS_STD=$(create "$SB" pass-standard STANDARD)
SB_PASS_EXP=$(create "$SB" pass-express EXPRESS)
M_PASS_STD=$(create http://127.0.0.1:$MOTO_PORT pass-standard STANDARD)

run_wrk() { # url lua -> "rps p50 p99 non2xx"
  local out; out=$(wrk -t2 -c"$CONN" -d"${DUR}s" --latency -s "$2" "$1" 2>&1)
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out"); p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "$rps $p50 $p99 ${non2xx:-0}"
}
lua_sync() { cat > "$TMP/sync-$2.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "AWSStepFunctions.StartSyncExecution"
wrk.body = '{"stateMachineArn":"$1","input":"{\\\\"values\\\\": [3, 1, 2]}"}'
LUA
echo "$TMP/sync-$2.lua"; }
cat > "$TMP/invoke.lua" <<LUA
wrk.method = "POST"
wrk.path = "/restapis/$API/prod/_user_request_/execution"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$INPUT'
LUA

# Closed loop for STANDARD machines (moto has no StartSyncExecution): each worker starts an
# execution and polls DescribeExecution until it ends; latency is start → seen ended.
closed_loop() { python3 - "$1" "$2" "$DUR" "$CONN" <<'PY'
import http.client, json, sys, threading, time, uuid
url, arn, dur, workers = sys.argv[1], sys.argv[2], float(sys.argv[3]), min(int(sys.argv[4]), 16)
host, port = url.split("//")[1].split(":")
lat, fails, lock = [], [0], threading.Lock()
def call(c, op, body):
    c.request("POST", "/", json.dumps(body), {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AWSStepFunctions." + op,
        # moto routes by the signature's service name; the sandbox takes the region from it.
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/states/aws4_request, SignedHeaders=host, Signature=0"})
    return json.loads(c.getresponse().read() or b"{}")
def worker(end):
    c = http.client.HTTPConnection(host, int(port), timeout=60)
    while time.time() < end:
        t = time.time()
        e = call(c, "StartExecution", {"stateMachineArn": arn, "name": uuid.uuid4().hex, "input": '{"values": [3, 1, 2]}'})
        status = "RUNNING"
        while status == "RUNNING":
            d = call(c, "DescribeExecution", {"executionArn": e.get("executionArn", "")})
            status = d.get("status", "ERROR")
            if status == "RUNNING":
                time.sleep(0.002)
        with lock:
            if status == "SUCCEEDED": lat.append(time.time() - t)
            else: fails[0] += 1
end = time.time() + dur
ts = [threading.Thread(target=worker, args=(end,)) for _ in range(workers)]
start = time.time(); [t.start() for t in ts]; [t.join() for t in ts]; took = time.time() - start
lat.sort()
pct = lambda p: f"{lat[min(len(lat)-1, int(p*len(lat)))]*1000:.2f}ms" if lat else "-"
print(f"{len(lat)/took:.1f} {pct(0.5)} {pct(0.99)} {fails[0]}")
PY
}

check=$(curl -s -X POST $SB -H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Target: AWSStepFunctions.StartSyncExecution' \
  -d "{\"stateMachineArn\":\"$REF\",\"input\":\"{\\\"values\\\": [3, 1, 2]}\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["output"])')
echo "reference system output: $check"

printf '| what | executions/s | p50 / p99 | failed or non-2xx |\n|---|---|---|---|\n'
row() { printf '| %s | %s | %s / %s | %s |\n' "$1" "$2" "$3" "$4" "$5"; }
read -r a b c d < <(run_wrk "$SB" "$(lua_sync "$REF" ref)"); row "sandbox: reference system, StartSyncExecution (wrk, $CONN connections)" "$a" "$b" "$c" "$d"; REF_SYNC=$a
# The invoke URL answers once the EXPRESS execution is started; executions/s counts them ended:
# requests answered ÷ (wrk's time + the time until the sandbox has no execution running).
T0=$(date +%s.%N)
read -r a b c d < <(run_wrk "$SB" "$TMP/invoke.lua")
while [ "$(curl -s $SB/_sandbox/executions | python3 -c 'import json,sys; print(json.load(sys.stdin)["running"])')" != 0 ]; do sleep 0.05; done
DONE=$(python3 -c "print(f'{$a * $DUR / ($(date +%s.%N) - $T0):.1f}')")
row "sandbox: reference system, invoke URL POST /execution (StartExecution, EXPRESS; latency = the API's answer)" "$DONE" "$b" "$c" "$d"
read -r a b c d < <(run_wrk "$SB" "$(lua_sync "$SB_PASS_EXP" pass)"); row "sandbox: Pass variant, StartSyncExecution" "$a" "$b" "$c" "$d"
read -r a b c d < <(closed_loop "$SB" "$SB_PASS_STD"); row "sandbox: Pass variant, STANDARD, StartExecution + DescribeExecution until done" "$a" "$b" "$c" "$d"; SB_LOOP=$a
read -r a b c d < <(closed_loop http://127.0.0.1:$MOTO_PORT "$M_PASS_STD"); row "moto: Pass variant, STANDARD, StartExecution + DescribeExecution until done" "$a" "$b" "$c" "$d"; M_LOOP=$a
python3 -c "m=float('$M_LOOP'); print(f'ratio, same closed loop: {float(\"$SB_LOOP\")/m:.0f}x; reference StartSyncExecution vs moto closed loop: {float(\"$REF_SYNC\")/m:.0f}x')"
curl -s $SB/_sandbox/executions | python3 -c '
import json, sys, collections
c = collections.Counter(e["status"] for e in json.load(sys.stdin)["executions"])
print("statuses of the executions the sandbox kept:", dict(c))'
