#!/usr/bin/env bash
# reconcile --once of N state machines plus the reference machine (parallel-processing) and a REST API
# with a dozen ApiIntegrations (POST /execution-01 .. /execution-12, each starting one of the generated
# machines) against the sandbox: create pass and in-sync pass (wall time, peak RSS, AWS calls, state
# file flushes), then the same in-sync check done by a plain sequential AWS CLI script (describe each
# machine and compare its definition), same run.
#
# The operator runs as `reconcile --once --sandbox` (SPEC §3): the sandbox is in the same process,
# every AWS call is a real signed HTTP request from the AWS SDK to it on loopback, its state is kept in
# DIR/.sfn-operator/sandbox.json (fsync'd), and client-side rate limits are off (SPEC §4). Peak RSS is
# therefore operator + sandbox. The sandbox's request counts (the `/_sandbox/requests` counters) are
# logged at debug level when it stops; the script reads them from that log line.
#
# Usage: bench/reconcile.sh [N...]   (default 10 100 1000). Needs a release build
# (BIN, default $CARGO_TARGET_DIR/release/sfn-operator) and $SFN_OPERATOR_PEERS_VENV/bin/aws.
# PEER_SAMPLE=K: the AWS CLI peer checks only the first K machines and its time is scaled to N.
set -euo pipefail
BIN=$(realpath "${BIN:-${CARGO_TARGET_DIR:-target}/release/sfn-operator}")
AWS="$SFN_OPERATOR_PEERS_VENV/bin/aws"
REPO=$(cd "$(dirname "$0")/.." && pwd)
INTEGRATIONS=12
DEF='{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}'
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
# Only the sandbox's "stopped" line (with its request counts) and errors; JSON for parsing.
export SFN_OPERATOR_LOG=sfn_operator::sandbox=debug,error

echo "bin=$BIN commit=$(git -C "$REPO" rev-parse --short HEAD) date=$(date -u +%FT%TZ)"
for N in ${@:-10 100 1000}; do
  W=$(mktemp -d)
  M="$W/manifests"
  mkdir "$M"
  cp "$REPO/manifests/state-machine.yaml" "$REPO/manifests/parallel-processing.asl.yaml" "$M/"
  for i in $(seq 1 "$N"); do
    printf 'apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata:\n  name: m%d\nspec:\n  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole\n  definition:\n    StartAt: A\n    States:\n      A:\n        Type: Pass\n        End: true\n' "$i" > "$M/m$i.yaml"
  done
  {
    printf 'apiVersion: sfn-operator.dev/v1alpha1\nkind: RestApi\nmetadata:\n  name: state-machine-api\nspec:\n  name: API Gateway State Machine integration\n'
    for k in $(seq 1 "$INTEGRATIONS"); do
      printf -- '---\napiVersion: sfn-operator.dev/v1alpha1\nkind: ApiIntegration\nmetadata:\n  name: start-execution-%02d\nspec:\n  restApi:\n    ref: state-machine-api\n  path: /execution-%02d\n  httpMethod: POST\n  integration:\n    type: AWS\n    service: states\n    action: StartExecution\n    integrationHttpMethod: POST\n    credentials: arn:aws:iam::${AWS::AccountId}:role/IntegrationIamRole\n  stateMachineRef: m%d\n  stage: prod\n' \
        "$k" "$k" $(( (k - 1) % N + 1 ))
    done
  } > "$M/api.yaml"
  RESOURCES=$((N + 1 + 1 + INTEGRATIONS))
  for pass in create in-sync; do
    t0=$(date +%s%N)
    (cd "$W" && /usr/bin/time -v -o "$W/time" "$BIN" reconcile --once --sandbox --log-format json "$M" \
      >"$W/report" 2>"$W/log") || { echo "reconcile failed (N=$N $pass)"; cat "$W/log" "$W/report" | tail -20; exit 1; }
    t1=$(date +%s%N)
    wall=$(python3 -c "print(f'{($t1-$t0)/1e9:.3f}')")
    rss=$(grep "Maximum resident" "$W/time" | awk '{print $NF}')
    python3 - "$W/log" "$N" "$pass" "$wall" "$rss" "$RESOURCES" <<'EOF'
import json, sys
log, n, pass_, wall, rss, resources = sys.argv[1:]
stopped = [json.loads(l) for l in open(log) if '"sandbox stopped"' in l]
if len(stopped) != 1:
    sys.exit(f"expected one 'sandbox stopped' log line, got {len(stopped)}")
f = stopped[0]["fields"]
r = json.loads(f["requests"])
print(f"N={n} pass={pass_} resources={resources} wall_s={wall} peak_rss_kb={rss} "
      f"aws_calls={r['total']} calls_per_resource={r['total'] / int(resources):.2f} "
      f"reads={r['reads']} writes={r['writes']} state_changes={f['changes']} state_flushes={f['flushes']} "
      f"sfn={json.dumps(r['sfn'], separators=(',', ':'))} apigateway={json.dumps(r['apigateway'], separators=(',', ':'))} "
      f"sts={json.dumps(r['sts'], separators=(',', ':'))}")
EOF
  done
  # The peer: a sequential AWS CLI in-sync check of each machine, against the same sandbox state
  # (now served by `sfn-operator sandbox` as its own process, since --sandbox stops with the pass).
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$BIN" sandbox --listen "127.0.0.1:$PORT" --state "$W/.sfn-operator/sandbox.json" >/dev/null 2>&1 &
  SB=$!
  URL="http://127.0.0.1:$PORT"
  until curl -sf "$URL/_sandbox/requests" >/dev/null; do sleep 0.1; done
  K=${PEER_SAMPLE:-$N}; [ "$K" -gt "$N" ] && K=$N
  start=$(date +%s.%N)
  for i in $(seq 1 "$K"); do
    "$AWS" --endpoint-url "$URL" stepfunctions describe-state-machine \
      --state-machine-arn "arn:aws:states:us-east-1:123456789012:stateMachine:m$i" --query definition --output text \
      | jq -e --argjson want "$DEF" '. == $want' >/dev/null
  done
  end=$(date +%s.%N)
  echo "N=$N peer=aws-cli-sequential checked=$K wall_s=$(python3 -c "print(round($end-$start,2))") scaled_to_N_s=$(python3 -c "print(round(($end-$start)*$N/$K,2))")"
  kill "$SB"; wait "$SB" 2>/dev/null || true
  rm -rf "$W"
done
