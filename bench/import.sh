#!/usr/bin/env bash
# `sfn-operator import` of N state machines built by hand (no operator tags; every 10th with a tag
# of its own) against `sfn-operator sandbox --aws-quotas`: AWS's default control-plane quotas
# enforced server-side, and the operator's default client-side limits ON (`--endpoint-url` keeps
# them). Wall time, calls per action, and the floor the quotas allow for those calls (the
# sandbox's `GET /_sandbox/quotas` `floorSeconds`).
#   1. the machines are created with botocore (the AWS CLI's library, from the peers venv) against
#      a sandbox WITHOUT quotas: under CreateStateMachine's quota it would take N-100 s whatever the
#      tool, and it is not what is measured;
#   2. the sandbox is restarted with `--aws-quotas` on that state file (every bucket full);
#   3. the import, timed from the shell around the process, then the request counts and the floor.
#
# Usage: bench/import.sh [N]   (default 1000). BIN (default $CARGO_TARGET_DIR/debug/sfn-operator),
# PEERS (default /work/peers-venv or .venv-peers).
set -euo pipefail
BIN=$(realpath "${BIN:-${CARGO_TARGET_DIR:-target}/debug/sfn-operator}")
REPO=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS:-${SFN_OPERATOR_PEERS_VENV:-$REPO/.venv-peers}}
N=${1:-1000}
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export SFN_OPERATOR_LOG=error
WORK=$(mktemp -d)

SB=""
start_sandbox() { # STATE [--aws-quotas]
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$BIN" sandbox --listen "127.0.0.1:$PORT" --state "$@" >/dev/null 2>&1 &
  SB=$!
  URL="http://127.0.0.1:$PORT"
  until curl -sf "$URL/_sandbox/requests" >/dev/null; do sleep 0.1; done
}
stop_sandbox() { kill "$SB"; wait "$SB" 2>/dev/null || true; }
trap '[ -n "$SB" ] && kill "$SB" 2>/dev/null || true; rm -rf "$WORK"' EXIT

start_sandbox "$WORK/state.json"
"$PEERS/bin/python" - "$URL" "$N" <<'PY'
import json, sys, botocore.session
url, n = sys.argv[1], int(sys.argv[2])
sfn = botocore.session.get_session().create_client("stepfunctions", endpoint_url=url, region_name="us-east-1")
for i in range(n):
    tags = [{"key": "team", "value": f"t{i % 3}"}] if i % 10 == 0 else []
    sfn.create_state_machine(
        name=f"Hand_{i:04d}", roleArn="arn:aws:iam::123456789012:role/StepFunctionsIamRole", tags=tags,
        definition=json.dumps({"Comment": f"machine {i}", "StartAt": "A",
                               "States": {"A": {"Type": "Pass", "Result": {"i": i}, "End": True}}}))
PY
stop_sandbox
start_sandbox "$WORK/state.json" --aws-quotas

ARGS=()
for i in $(seq 0 $((N - 1))); do ARGS+=(--state-machine "$(printf 'Hand_%04d' "$i")"); done
start=$(date +%s.%N)
# IMPORT_FLAGS=--no-aliases skips the aliases' ListStateMachineAliases per machine.
"$BIN" import "${ARGS[@]}" ${IMPORT_FLAGS:-} -o "$WORK/imported" --endpoint-url "$URL" -q >/dev/null
end=$(date +%s.%N)
echo "import${IMPORT_FLAGS:+ $IMPORT_FLAGS} of $N machines: $(python3 -c "print(f'{$end - $start:.2f}')") s wall, $(ls "$WORK/imported" | wc -l) files"
echo "requests: $(curl -s "$URL/_sandbox/requests")"
echo "quotas: $(curl -s "$URL/_sandbox/quotas" | python3 -c 'import json,sys; q=json.load(sys.stdin); print(json.dumps({k: q[k] for k in ("floorSeconds", "throttled") if k in q}))')"
stop_sandbox
