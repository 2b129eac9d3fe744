#!/usr/bin/env bash
# Whole-process throughput of `sfn-operator test` on 10,000 generated cases of the reference
# machine (manifests/state-machine.yaml + parallel-processing.asl.yaml), in one WorkflowTest:
#   mocks:   each case mocks the three Lambda tasks (`{return: {Payload: ...}}`) with the values its
#            random input implies and expects the Parallel's output: the interpreter's own cost.
#   jsonata: the same cases answered by the JSONata stand-ins of manifests/parallel-processing.test.yaml
#            (three JSONata evaluations per case in QuickJS).
# Inputs come from a seeded generator (SEED, printed). Every case must pass: the run checks exit 0.
# Usage: [BIN=path/to/sfn-operator] [CASES=10000] [SEED=n] bench/workflow_tests.sh
#   (builds the release binary unless BIN is given; uses hyperfine when installed)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN="${CARGO_TARGET_DIR:-target}/release/sfn-operator"
fi
CASES="${CASES:-10000}"
SEED="${SEED:-$RANDOM}"
echo "seed: $SEED, cases: $CASES, cores: $(nproc)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
for v in mocks jsonata; do
  mkdir -p "$WORK/$v"
  cp manifests/state-machine.yaml manifests/parallel-processing.asl.yaml "$WORK/$v/"
done
python3 - "$WORK" "$CASES" "$SEED" <<'PY'
import json, random, sys
work, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
# 1,000 cases per file (a manifest file is at most 4 MiB), one WorkflowTest per file.
PER_FILE = 1000
head = """apiVersion: sfn-operator.dev/v1alpha1
kind: WorkflowTest
metadata: {name: generated-%d}
spec:
  stateMachineRef: parallel-processing
"""
standins = """  functions:
    SumFunction: {jsonata: "{'sum': $sum(values)}"}
    MaxMinFunction: {jsonata: "{'max': $max(values), 'min': $min(values)}"}
    AvgFunction: {jsonata: "{'avg': $average(values)}"}
"""
mocks, jsonata = [], []
def flush(part):
    open(f"{work}/mocks/t{part}.yaml", "w").write("".join(mocks))
    open(f"{work}/jsonata/t{part}.yaml", "w").write("".join(jsonata))
for i in range(n):
    if i % PER_FILE == 0:
        if i:
            flush(i // PER_FILE - 1)
        part = i // PER_FILE
        mocks, jsonata = [head % part + "  cases:\n"], [head % part + standins + "  cases:\n"]
    vals = [rng.randint(-1000, 1000) for _ in range(rng.randint(1, 8))]
    # A whole average: the expected value is exact, whatever the float formatting.
    vals[-1] -= sum(vals) % len(vals)
    s, mx, mn = sum(vals), max(vals), min(vals)
    avg = s // len(vals)
    out = json.dumps([{"sum": s}, {"max": mx, "min": mn}, {"avg": avg}])
    case = f"  - name: case {i}\n    input: {json.dumps({'values': vals})}\n    expect: {{output: {out}}}\n"
    jsonata.append(case)
    m = {
        "Parallel.Branches[0].SumValues": [{"return": {"StatusCode": 200, "Payload": {"sum": s}}}],
        "Parallel.Branches[1].MaxMinValues": [{"return": {"StatusCode": 200, "Payload": {"max": mx, "min": mn}}}],
        "Parallel.Branches[2].AverageValues": [{"return": {"StatusCode": 200, "Payload": {"avg": avg}}}],
    }
    mocks.append(case + f"    mocks: {json.dumps(m)}\n")
flush((n - 1) // PER_FILE)
PY
for v in mocks jsonata; do
  # Every case passes (exit 0), or the figure means nothing.
  "$BIN" test "$WORK/$v" -q | tail -1
done
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 1 --runs "${RUNS:-5}" \
    -n mocks "$BIN test $WORK/mocks -q" \
    -n jsonata "$BIN test $WORK/jsonata -q"
else
  for v in mocks jsonata; do
    /usr/bin/time -f "$v: %e s" "$BIN" test "$WORK/$v" -q >/dev/null
  done
fi
