#!/usr/bin/env bash
# Requests/s and latency of the sandbox vs moto, same client (wrk), same run.
# Usage: SFN_OPERATOR_PEERS_VENV=.venv-peers bench/sandbox.sh [seconds]
# Needs: wrk, a release build (target/release/sfn-operator or $SFN_OPERATOR_BIN).
set -euo pipefail
DUR=${1:-5}
BIN=${SFN_OPERATOR_BIN:-${CARGO_TARGET_DIR:-target}/release/sfn-operator}
VENV=${SFN_OPERATOR_PEERS_VENV:?set SFN_OPERATOR_PEERS_VENV}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SB_PORT=$(free_port); MOTO_PORT=$(free_port)
"$BIN" sandbox --listen 127.0.0.1:$SB_PORT >/dev/null 2>&1 & SB_PID=$!
"$VENV/bin/moto_server" -H 127.0.0.1 -p $MOTO_PORT >/dev/null 2>&1 & MOTO_PID=$!
trap 'kill $SB_PID $MOTO_PID 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 300); do curl -sf http://127.0.0.1:$MOTO_PORT/moto-api/ >/dev/null && curl -sf http://127.0.0.1:$SB_PORT/_sandbox/requests >/dev/null && break; sleep 0.1; done

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
DEF='{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}'
setup() { # $1 = url; prints "ARN API_ID RESOURCE_ID"
  local url=$1 aws="$VENV/bin/aws --endpoint-url $1 --output text"
  local arn; arn=$($aws stepfunctions create-state-machine --name bench --definition "$DEF" --role-arn arn:aws:iam::123456789012:role/r --query stateMachineArn)
  local api; api=$($aws apigateway create-rest-api --name bench --query id)
  local root; root=$($aws apigateway get-resources --rest-api-id "$api" --query 'items[0].id')
  $aws apigateway put-method --rest-api-id "$api" --resource-id "$root" --http-method POST --authorization-type NONE >/dev/null
  $aws apigateway put-integration --rest-api-id "$api" --resource-id "$root" --http-method POST --type AWS \
    --integration-http-method POST --uri arn:aws:apigateway:us-east-1:states:action/StartExecution >/dev/null
  echo "$arn $api $root"
}
run() { # $1 label, $2 url, $3 lua script; prints "rps p50_ms p99_ms"
  local out; out=$(wrk -t2 -c16 -d"${DUR}s" --latency -s "$3" "$2" 2>&1)
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out"); p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  local non2xx; non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "$rps $p50 $p99 ${non2xx:-0}"
}
read -r SB_ARN SB_API SB_ROOT < <(setup http://127.0.0.1:$SB_PORT)
read -r M_ARN M_API M_ROOT < <(setup http://127.0.0.1:$MOTO_PORT)

lua_describe() { cat > "$TMP/describe-$2.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "AWSStepFunctions.DescribeStateMachine"
wrk.body = '{"stateMachineArn":"$1"}'
LUA
echo "$TMP/describe-$2.lua"; }
lua_create() { cat > "$TMP/create-$1.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"name":"b-%d-%d","definition":"{\\"StartAt\\":\\"A\\",\\"States\\":{\\"A\\":{\\"Type\\":\\"Pass\\",\\"End\\":true}}}","roleArn":"arn:aws:iam::123456789012:role/r"}', math.random(1, 1000000000), n)
  return wrk.format("POST", "/", {["Content-Type"]="application/x-amz-json-1.0", ["X-Amz-Target"]="AWSStepFunctions.CreateStateMachine"}, body)
end
LUA
echo "$TMP/create-$1.lua"; }
lua_integration() { cat > "$TMP/integ-$3.lua" <<LUA
wrk.method = "GET"
wrk.path = "/restapis/$1/resources/$2/methods/POST/integration"
LUA
echo "$TMP/integ-$3.lua"; }

printf '| operation | sandbox req/s | sandbox p50 / p99 | moto req/s | moto p50 / p99 | ratio |\n|---|---|---|---|---|---|\n'
bench() { # label sandbox_lua moto_lua
  read -r srps sp50 sp99 serr < <(run sandbox http://127.0.0.1:$SB_PORT "$2")
  read -r mrps mp50 mp99 merr < <(run moto http://127.0.0.1:$MOTO_PORT "$3")
  ratio=$(python3 -c "print(f'{$srps/$mrps:.0f}x')")
  printf '| %s | %s | %s / %s | %s | %s / %s | %s |\n' "$1" "$srps" "$sp50" "$sp99" "$mrps" "$mp50" "$mp99" "$ratio"
  [ "$serr" = 0 ] && [ "$merr" = 0 ] || echo "  (non-2xx responses: sandbox $serr, moto $merr)"
}
bench DescribeStateMachine "$(lua_describe "$SB_ARN" sb)" "$(lua_describe "$M_ARN" moto)"
bench "CreateStateMachine (unique names)" "$(lua_create sb)" "$(lua_create moto)"
bench GetIntegration "$(lua_integration "$SB_API" "$SB_ROOT" sb)" "$(lua_integration "$M_API" "$M_ROOT" moto)"
