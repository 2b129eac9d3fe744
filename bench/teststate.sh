#!/usr/bin/env bash
# TestState calls/s in the sandbox against StartSyncExecution/s of a one-state EXPRESS machine
# doing the same work, same binary, same run (issue 20: a TestState call must cost no more).
# Three TestState shapes: a Pass, a mocked lambda:invoke Task at DEBUG, a mocked Map at TRACE.
# The peer: LocalStack (PEERS.md: localstack-core 4.12 in host mode) when LOCALSTACK_URL names a
# running one: the same rows against it in the same run, and the ratios. moto 5 does not serve
# TestState (UnknownOperation).
# A fifth row runs the reference system (a Parallel of three lambda:invoke Tasks) by
# StartSyncExecution: ours with the Lambda stand-ins of manifests/functions.json, LocalStack with
# the same answers mocked through SFN_MOCK_CONFIG (start it with
# SFN_MOCK_CONFIG=bench/localstack-sfn-mock.json; the execution ARN names the `#HappyPath` case).
# Usage: [LOCALSTACK_URL=http://127.0.0.1:4599] bench/teststate.sh [seconds] [connections]
# Needs: wrk, curl, python3, a build of sfn-operator ($SFN_OPERATOR_BIN, default the release one).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv-peers/bin/python} # with PyYAML (the AWS CLI's venv has it) for the reference row
DUR=${1:-5}
CONN=${2:-32}
BIN=${SFN_OPERATOR_BIN:-${CARGO_TARGET_DIR:-target}/release/sfn-operator}
TMP=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" sandbox --listen 127.0.0.1:$PORT --functions manifests/functions.json >/dev/null 2>&1 & PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 300); do curl -sf http://127.0.0.1:$PORT/_sandbox/requests >/dev/null && break; sleep 0.1; done
URL=http://127.0.0.1:$PORT

call() { # target body -> answer (against $URL)
  curl -s -X POST "$URL/" -H 'content-type: application/x-amz-json-1.0' -H "x-amz-target: AWSStepFunctions.$1" -d "$2"
}
PASS='{"Type":"Pass","Result":{"sum":6},"ResultPath":"$.out","End":true}'
MACHINE=$(python3 -c 'import json,sys; print(json.dumps({"StartAt":"S","States":{"S":json.loads(sys.argv[1])}}))' "$PASS")
make_machine() { # -> the machine's ARN at $URL
  call CreateStateMachine "$(python3 -c 'import json,sys; print(json.dumps({"name":"one-pass","type":"EXPRESS","definition":sys.argv[1],"roleArn":"arn:aws:iam::123456789012:role/R"}))' "$MACHINE")" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["stateMachineArn"])'
}
make_reference() { # -> the reference system's ARN at $URL (manifests/' definition, function names for ARNs)
  call CreateStateMachine "$("$PY" -c 'import json, sys, yaml
text = open("manifests/parallel-processing.asl.yaml").read()
for fn in ("SumFunction", "MaxMinFunction", "AvgFunction"):
    text = text.replace("${%sArn}" % fn, fn)
print(json.dumps({"name": "reference-system", "type": "EXPRESS",
                  "definition": json.dumps(yaml.safe_load(text)),
                  "roleArn": "arn:aws:iam::123456789012:role/R"}))
')" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stateMachineArn"])'
}
body() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])))' "$1"; }
TS_PASS=$(python3 -c 'import json,sys; print(json.dumps({"definition":sys.argv[1],"input":"{\"values\":[3,1,2]}"}))' "$PASS")
TS_TASK=$(python3 - <<'PY'
import json
task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "SumFunction", "Payload.$": "$"},
        "ResultSelector": {"sum.$": "$.Payload.sum"}, "End": True}
print(json.dumps({"definition": json.dumps(task), "input": "{\"values\":[3,1,2]}", "inspectionLevel": "DEBUG",
                  "mock": {"result": json.dumps({"StatusCode": 200, "Payload": {"sum": 6}})}}))
PY
)
TS_MAP=$(python3 - <<'PY'
import json
m = {"Type": "Map", "ToleratedFailureCount": 1, "End": True,
     "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}
print(json.dumps({"definition": json.dumps(m), "input": "[1,2,3]", "inspectionLevel": "TRACE",
                  "mock": {"result": "[1,2,3]"}, "stateConfiguration": {"mapIterationFailureCount": 1}}))
PY
)
run_wrk() { # target body -> "rps p50 p99 non2xx"
  local lua="$TMP/$RANDOM.lua"
  python3 - "$1" "$2" > "$lua" <<'PY'
import json, sys
print('wrk.method = "POST"')
print('wrk.headers["Content-Type"] = "application/x-amz-json-1.0"')
print(f'wrk.headers["X-Amz-Target"] = "AWSStepFunctions.{sys.argv[1]}"')
print(f'wrk.body = {json.dumps(sys.argv[2])}')
PY
  local out; out=$(wrk -t2 -c"$CONN" -d"${DUR}s" --latency -s "$lua" "$URL/" 2>&1)
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1=="50%" {print $2}' <<<"$out") $(awk '$1=="99%" {print $2}' <<<"$out") $(awk '/Non-2xx/ {print $NF}' <<<"$out")"
}
ROWS=("StartSyncExecution, one Pass state|StartSyncExecution" \
      "TestState, the same Pass (INFO)|TestState|$TS_PASS" \
      "TestState, mocked lambda:invoke Task (DEBUG)|TestState|$TS_TASK" \
      "TestState, mocked Map, 1 failed iteration (TRACE)|TestState|$TS_MAP" \
      "StartSyncExecution, the reference system (Parallel of 3 lambda:invoke)|Reference")
measure() { # name -> one line per row: "label|rps|p50|p99|non2xx" (rps "refused" when the first answer is not SUCCEEDED)
  local arn sync
  arn=$(make_machine)
  sync=$(python3 -c 'import json,sys; print(json.dumps({"stateMachineArn":sys.argv[1],"input":"{\"values\":[3,1,2]}"}))' "$arn")
  for row in "${ROWS[@]}"; do
    IFS='|' read -r label target payload <<<"$row"
    [ "$target" = StartSyncExecution ] && payload=$sync
    if [ "$target" = Reference ]; then
      target=StartSyncExecution
      ref=$(make_reference)
      [ "$1" = LocalStack ] && ref="$ref#HappyPath"
      payload=$(python3 -c 'import json,sys; print(json.dumps({"stateMachineArn":sys.argv[1],"input":"{\"values\":[3,1,2]}"}))' "$ref")
    fi
    # Each answer once, so a refused request never counts as throughput.
    answer=$(call "$target" "$payload")
    if ! grep -q '"status": *"SUCCEEDED"' <<<"$answer"; then
      echo "$1: $label: ${answer:0:300}" >&2
      echo "$label|refused|-|-|-"
      continue
    fi
    read -r rps p50 p99 bad <<<"$(run_wrk "$target" "$payload")"
    echo "$label|$rps|$p50|$p99|${bad:-0}"
  done
}
ours=$(measure sfn-operator)
if [ -n "${LOCALSTACK_URL:-}" ]; then
  URL=$LOCALSTACK_URL
  peer=$(measure LocalStack)
fi
echo "| call | sfn-operator req/s | p50 | p99 | non-2xx | LocalStack req/s | p50 | p99 | non-2xx | ratio |"
echo "|---|---|---|---|---|---|---|---|---|---|"
paste -d'|' <(echo "$ours") <(echo "${peer:-}") | while IFS='|' read -r label rps p50 p99 bad _l lrps lp50 lp99 lbad; do
  ratio=$(python3 -c 'import sys
try: print(f"{float(sys.argv[1])/float(sys.argv[2]):.1f}x")
except Exception: print("-")' "$rps" "${lrps:-}")
  echo "| $label | $rps | $p50 | $p99 | $bad | ${lrps:-not run} | ${lp50:-} | ${lp99:-} | ${lbad:-} | $ratio |"
done
