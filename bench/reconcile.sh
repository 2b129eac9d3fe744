#!/usr/bin/env bash
# reconcile --once of N state machines (+ the reference API with its integration) against the
# sandbox: create pass and in-sync pass (wall time, peak RSS, AWS calls), then the same in-sync check
# done by a plain sequential AWS CLI script (describe each machine and compare), same run.
# Usage: bench/reconcile.sh [N...]   (default 10 100 1000). Needs a release build and
# $SFN_OPERATOR_PEERS_VENV/bin/aws.
set -euo pipefail
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/sfn-operator}
AWS="$SFN_OPERATOR_PEERS_VENV/bin/aws"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
for N in "${@:-10 100 1000}"; do
  W=$(mktemp -d)
  cp manifests/*.yaml "$W/"
  for i in $(seq 1 "$N"); do
    printf 'apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata:\n  name: m%d\nspec:\n  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole\n  definition:\n    StartAt: A\n    States:\n      A:\n        Type: Pass\n        End: true\n' "$i" > "$W/m$i.yaml"
  done
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$BIN" sandbox --listen "127.0.0.1:$PORT" --state "$W/state.json" >/dev/null 2>&1 &
  SB=$!
  URL="http://127.0.0.1:$PORT"
  until curl -sf "$URL/_sandbox/requests" >/dev/null; do sleep 0.1; done
  for pass in create in-sync; do
    curl -sf -X POST "$URL/_sandbox/requests/reset" >/dev/null
    /usr/bin/time -v -o "$W/time" "$BIN" reconcile --once -q "$W" --endpoint-url "$URL" >/dev/null
    wall=$(grep "Elapsed (wall" "$W/time" | awk '{print $NF}')
    rss=$(grep "Maximum resident" "$W/time" | awk '{print $NF}')
    calls=$(curl -sf "$URL/_sandbox/requests" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["total"], d["writes"])')
    writes=${calls#* }; calls=${calls% *}
    echo "N=$N pass=$pass wall=$wall peak_rss_kb=$rss aws_calls=$calls writes=$writes calls_per_resource=$(python3 -c "print(round($calls/($N+2),2))")"
  done
  # The peer: a sequential AWS CLI in-sync check of every machine.
  # PEER_SAMPLE=K checks only the first K machines and scales the time to N (the script is linear).
  K=${PEER_SAMPLE:-$N}; [ "$K" -gt "$N" ] && K=$N
  start=$(date +%s.%N)
  for i in $(seq 1 "$K"); do
    "$AWS" --endpoint-url "$URL" stepfunctions describe-state-machine \
      --state-machine-arn "arn:aws:states:us-east-1:123456789012:stateMachine:m$i" --query definition --output text \
      | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d=={"StartAt":"A","States":{"A":{"Type":"Pass","End":True}}} else 1)'
  done
  end=$(date +%s.%N)
  echo "N=$N peer=aws-cli-sequential checked=$K wall_s=$(python3 -c "print(round($end-$start,2))") scaled_to_N_s=$(python3 -c "print(round(($end-$start)*$N/$K,2))")"
  kill "$SB"; wait "$SB" 2>/dev/null || true
  rm -rf "$W"
done
