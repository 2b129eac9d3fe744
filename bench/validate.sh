#!/usr/bin/env bash
# Whole-process time of `sfn-operator validate` on (1) the 174 corpus definitions wrapped in
# StateMachine manifests (definitionFile + definitionSubstitutions, as tests/validate_cli.rs does)
# and (2) 1,000 generated manifests (StateMachine + RestApi + ApiIntegration triples).
# Peer (same run): PyYAML `safe_load_all` of the same files in one Python process — parsing only,
# strictly less work than sfn-operator (no ASL validation, no schema), so the ratio is flattering
# to the peer. There is no offline peer doing the same validation.
# Usage: [BIN=path/to/sfn-operator] [SFN_OPERATOR_PEERS_VENV=...] bench/validate.sh
#   (builds the release binary unless BIN is given; uses hyperfine when installed)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN="${CARGO_TARGET_DIR:-target}/release/sfn-operator"
fi
PEER_PY="${SFN_OPERATOR_PEERS_VENV:-.venv-peers}/bin/python"
CORPUS="${CORPUS:-tests/corpus/asl}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/corpus" "$WORK/gen"

i=0
for f in "$CORPUS"/*; do
  name="$(basename "$f")"
  cp "$f" "$WORK/corpus/$name"
  {
    printf 'apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata:\n  name: m%d\nspec:\n' "$i"
    printf '  roleArn: arn:aws:iam::1:role/r\n  definitionFile: %s\n' "$name"
    subs="$(grep -o '\${[^}]*}' "$f" | sort -u | grep -v '^\${AWS::' || true)"
    if [ -n "$subs" ]; then
      printf '  definitionSubstitutions:\n'
      while IFS= read -r p; do
        n="${p:2:${#p}-3}"
        # the same values as tests/validate_cli.rs value_for()
        case "${n,,}" in
          *partition*) v=aws ;;
          *region*) v=us-east-1 ;;
          *timeout*|*seconds*) v=60 ;;
          *account*) v=123456789012 ;;
          *) v="arn:aws:lambda:us-east-1:123456789012:function:${n//[^A-Za-z0-9]/-}" ;;
        esac
        printf '    "%s": "%s"\n' "$n" "$v"
      done <<< "$subs"
    fi
  } > "$WORK/corpus/m$i.yaml"
  i=$((i+1))
done

for n in $(seq 0 333); do
  cat > "$WORK/gen/app$n.yaml" <<YAML
apiVersion: sfn-operator.dev/v1alpha1
kind: StateMachine
metadata:
  name: machine-$n
spec:
  type: EXPRESS
  roleArn: arn:aws:iam::\${AWS::AccountId}:role/StepFunctionsIamRole
  definition:
    StartAt: Work
    States:
      Work:
        Type: Task
        Resource: arn:aws:states:::lambda:invoke
        Parameters:
          Payload.$: $
          FunctionName: arn:aws:lambda:\${AWS::Region}:\${AWS::AccountId}:function:F$n
        ResultSelector:
          out.$: $.Payload
        Next: Done
      Done:
        Type: Succeed
---
apiVersion: sfn-operator.dev/v1alpha1
kind: RestApi
metadata:
  name: api-$n
spec:
  name: API $n
---
apiVersion: sfn-operator.dev/v1alpha1
kind: ApiIntegration
metadata:
  name: start-$n
spec:
  restApi: {ref: api-$n}
  path: /execution
  httpMethod: POST
  integration:
    service: states
    action: StartExecution
    credentials: arn:aws:iam::\${AWS::AccountId}:role/IntegrationIamRole
  stateMachineRef: machine-$n
  stage: prod
YAML
done
# 334 files x 3 = 1,002 manifests; drop two to make it 1,000.
sed -i '/^---$/,$d' "$WORK/gen/app333.yaml"

"$BIN" validate "$WORK/corpus" >/dev/null
"$BIN" validate "$WORK/gen"
cat > "$WORK/peer.py" <<'PY'
import os, sys, yaml
L = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
n = 0
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        with open(os.path.join(root, f)) as fh:
            n += sum(1 for _ in yaml.load_all(fh, Loader=L))
print(n, "documents")
PY
if command -v hyperfine >/dev/null; then
  PEER=()
  if [ -x "$PEER_PY" ]; then
    "$PEER_PY" "$WORK/peer.py" "$WORK/corpus"; "$PEER_PY" "$WORK/peer.py" "$WORK/gen"
    PEER=(-n peer-pyyaml-corpus "$PEER_PY $WORK/peer.py $WORK/corpus" -n peer-pyyaml-gen "$PEER_PY $WORK/peer.py $WORK/gen")
  fi
  hyperfine --warmup 3 --runs "${RUNS:-30}" -N \
    -n corpus-174 "$BIN validate $WORK/corpus" \
    -n generated-1000 "$BIN validate $WORK/gen" "${PEER[@]}"
else
  for d in corpus gen; do
    s=$(date +%s%N); for _ in $(seq 20); do "$BIN" validate "$WORK/$d" >/dev/null; done; e=$(date +%s%N)
    echo "$d: $(( (e - s) / 20000000 )) ms per run (mean of 20)"
  done
fi
