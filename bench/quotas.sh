#!/usr/bin/env bash
# An in-sync `reconcile --once` of N state machines plus the reference machine (parallel-processing)
# and a REST API with a dozen ApiIntegrations (the manifests of bench/reconcile.sh), against
# `sfn-operator sandbox --aws-quotas`: AWS's default control-plane quotas enforced server-side, and
# the operator's default client-side limits ON (`--endpoint-url` keeps them; only `--sandbox` and
# `--no-rate-limits` turn them off). This is the pace of a real account: wall time, calls per
# action, and the floor the quotas allow for those calls (the slowest bucket, from the sandbox's
# `GET /_sandbox/quotas`, which computes it with the operator's own tables).
#
# Per operator binary (BEFORE_BIN at BEFORE_N machines, if given; then BIN at N):
#   1. the live state is made by a create pass against a sandbox WITHOUT quotas (`--no-rate-limits`):
#      under CreateStateMachine's quota (100, then 1 a second) it would take N-100 s whatever the
#      tool, and it is not what is measured here;
#   2. the sandbox is restarted with `--aws-quotas` on that state file (every bucket full: an
#      account at rest);
#   3. the in-sync pass, timed from the shell around the process (start-up, STS and the final
#      report included), then the sandbox's request counts and quota figures.
# The sandbox is always BIN's (BEFORE_BIN may predate --aws-quotas).
#
# Then (DAEMON=1, the default) the daemon's first full pass over the same state (it keeps to half of
# every quota, SPEC §6 via README "Running the daemon"): time until /readyz, and /status's `resync`.
#
# Usage: bench/quotas.sh [N]   (default 1000). BIN (default $CARGO_TARGET_DIR/release/sfn-operator),
# BEFORE_BIN (optional, e.g. a build of the commit before the Tagging API), BEFORE_N (default N).
set -euo pipefail
BIN=$(realpath "${BIN:-${CARGO_TARGET_DIR:-target}/release/sfn-operator}")
REPO=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-1000}
INTEGRATIONS=12
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export SFN_OPERATOR_LOG=error

manifests() { # DIR N
  local M=$1 n=$2
  mkdir -p "$M"
  cp "$REPO/manifests/state-machine.yaml" "$REPO/manifests/parallel-processing.asl.yaml" "$M/"
  for i in $(seq 1 "$n"); do
    printf 'apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata:\n  name: m%d\nspec:\n  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole\n  definition:\n    StartAt: A\n    States:\n      A:\n        Type: Pass\n        End: true\n' "$i" > "$M/m$i.yaml"
  done
  {
    printf 'apiVersion: sfn-operator.dev/v1alpha1\nkind: RestApi\nmetadata:\n  name: state-machine-api\nspec:\n  name: API Gateway State Machine integration\n'
    for k in $(seq 1 "$INTEGRATIONS"); do
      printf -- '---\napiVersion: sfn-operator.dev/v1alpha1\nkind: ApiIntegration\nmetadata:\n  name: start-execution-%02d\nspec:\n  restApi:\n    ref: state-machine-api\n  path: /execution-%02d\n  httpMethod: POST\n  integration:\n    type: AWS\n    service: states\n    action: StartExecution\n    integrationHttpMethod: POST\n    credentials: arn:aws:iam::${AWS::AccountId}:role/IntegrationIamRole\n  stateMachineRef: m%d\n  stage: prod\n' \
        "$k" "$k" $(( (k - 1) % n + 1 ))
    done
  } > "$M/api.yaml"
}

SB=""
start_sandbox() { # STATE [--aws-quotas]
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$BIN" sandbox --listen "127.0.0.1:$PORT" --state "$@" >/dev/null 2>&1 &
  SB=$!
  URL="http://127.0.0.1:$PORT"
  until curl -sf "$URL/_sandbox/requests" >/dev/null; do sleep 0.1; done
}
stop_sandbox() { kill "$SB"; wait "$SB" 2>/dev/null || true; }
trap '[ -n "$SB" ] && kill "$SB" 2>/dev/null || true' EXIT

run() { # LABEL OPERATOR N
  local label=$1 op=$2 n=$3 W
  W=$(mktemp -d)
  manifests "$W/manifests" "$n"
  start_sandbox "$W/state.json"
  "$BIN" reconcile --once --endpoint-url "$URL" --no-rate-limits -o json "$W/manifests" >"$W/create.json" \
    || { echo "create pass failed ($label)"; tail -5 "$W/create.json"; exit 1; }
  stop_sandbox
  start_sandbox "$W/state.json" --aws-quotas
  t0=$(date +%s%N)
  "$op" reconcile --once --endpoint-url "$URL" -o json "$W/manifests" >"$W/report.json" 2>"$W/log" \
    || { echo "in-sync pass failed ($label)"; tail -20 "$W/log"; exit 1; }
  t1=$(date +%s%N)
  curl -sf "$URL/_sandbox/requests" >"$W/requests.json"
  curl -sf "$URL/_sandbox/quotas" >"$W/quotas.json"
  stop_sandbox
  python3 - "$label" "$n" "$t0" "$t1" "$W" <<'PY'
import json, sys
label, n, t0, t1, w = sys.argv[1:]
wall = (int(t1) - int(t0)) / 1e9
req = json.load(open(f"{w}/requests.json"))
q = json.load(open(f"{w}/quotas.json"))
rep = json.load(open(f"{w}/report.json"))
s = rep["summary"]
calls = {f"{svc}:{op}": c for svc in ("sfn", "apigateway", "tagging", "sts") for op, c in req.get(svc, {}).items()}
print(f"{label} N={n} resources={int(n) + 14} wall_s={wall:.2f} floor_s={q['floorSeconds']:.2f} "
      f"noop={s['noop']} failed={s['failed']} calls={req['total']} writes={req['writes']} "
      f"throttled={json.dumps(q['throttled'], separators=(',', ':'))}")
print(f"  calls per action: {json.dumps(calls, separators=(',', ':'))}")
paced = rep.get("rateLimited", [])
print(f"  paced (report rateLimited): {json.dumps(paced, separators=(',', ':'))}")
PY
  rm -rf "$W"
}

daemon_run() { # N: the daemon's first full pass (half of every quota) and /status's resync figures
  local n=$1 W DPORT D
  W=$(mktemp -d)
  manifests "$W/manifests" "$n"
  start_sandbox "$W/state.json"
  "$BIN" reconcile --once --endpoint-url "$URL" --no-rate-limits -o json "$W/manifests" >/dev/null
  stop_sandbox
  start_sandbox "$W/state.json" --aws-quotas
  DPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  t0=$(date +%s%N)
  (cd "$W" && exec "$BIN" reconcile manifests --endpoint-url "$URL" --listen "127.0.0.1:$DPORT" >/dev/null 2>"$W/daemon.log") &
  D=$!
  until curl -sf "http://127.0.0.1:$DPORT/readyz" >/dev/null; do
    kill -0 "$D" 2>/dev/null || { echo "daemon died"; tail -5 "$W/daemon.log"; exit 1; }
    sleep 0.2
  done
  t1=$(date +%s%N)
  curl -sf "http://127.0.0.1:$DPORT/status" >"$W/status.json"
  kill "$D"; wait "$D" 2>/dev/null || true
  curl -sf "$URL/_sandbox/quotas" >"$W/quotas.json"
  stop_sandbox
  python3 - "$n" "$t0" "$t1" "$W" <<'PY'
import json, sys
n, t0, t1, w = sys.argv[1:]
st = json.load(open(f"{w}/status.json"))
q = json.load(open(f"{w}/quotas.json"))
print(f"daemon N={n} ready_after_s={(int(t1) - int(t0)) / 1e9:.2f} synced={sum(1 for r in st['resources'] if r['status'] == 'Synced')} "
      f"throttled={json.dumps(q['throttled'], separators=(',', ':'))}")
print(f"  /status resync: {json.dumps(st['resync'], separators=(',', ':'))}")
PY
  rm -rf "$W"
}

echo "bin=$BIN commit=$(git -C "$REPO" rev-parse --short HEAD) date=$(date -u +%FT%TZ)"
if [ -n "${BEFORE_BIN:-}" ]; then
  run before "$(realpath "$BEFORE_BIN")" "${BEFORE_N:-$N}"
fi
run after "$BIN" "$N"
if [ "${DAEMON:-1}" = 1 ]; then
  daemon_run "$N"
fi
