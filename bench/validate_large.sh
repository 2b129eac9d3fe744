#!/usr/bin/env bash
# Whole-process time and peak RSS of `sfn-operator validate` on two large single manifests
# (issue 10: the loader must not stall on odd input):
#   keys-100k: a StateMachine whose Pass state's Result is one mapping of 100,000 keys (~2.5 MiB);
#   nested-3mib: a ~3 MiB StateMachine of 680 chained Pass states, each with a Parameters object
#     nested 8 levels deep (96 leaves per state), the shape that a per-ancestor node count refused;
#   keys-380k: the same as keys-100k with 380,000 keys in one JSON-style flow mapping (3.2 MiB,
#     under the 4 MiB limit).
# Both must be valid (the script checks exit 0 first). Peer (same run): PyYAML CSafeLoader parsing
# the same file in one Python process (parsing only, strictly less work).
# Usage: [BIN=path/to/sfn-operator] [SFN_OPERATOR_PEERS_VENV=...] [RUNS=10] bench/validate_large.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN="${CARGO_TARGET_DIR:-target}/release/sfn-operator"
fi
PEER_PY="${SFN_OPERATOR_PEERS_VENV:-.venv-peers}/bin/python"
RUNS="${RUNS:-10}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/keys-100k" "$WORK/nested-3mib" "$WORK/keys-380k"
python3 - "$WORK" <<'PY'
import sys
w = sys.argv[1]
head = ("apiVersion: sfn-operator.dev/v1alpha1\nkind: StateMachine\nmetadata:\n  name: {name}\nspec:\n"
        "  roleArn: arn:aws:iam::123456789012:role/StepFunctionsIamRole\n  definition:\n")
with open(f"{w}/keys-100k/m.yaml", "w") as f:
    f.write(head.format(name="many-keys"))
    f.write("    StartAt: P\n    States:\n      P:\n        Type: Pass\n        End: true\n        Result:\n")
    for i in range(100_000):
        f.write(f"          key{i}: {i}\n")
with open(f"{w}/nested-3mib/m.yaml", "w") as f:
    f.write(head.format(name="nested"))
    f.write("    StartAt: S0\n    States:\n")
    n = 680
    for i in range(n):
        f.write(f"      S{i}:\n        Type: Pass\n        Parameters:\n")
        ind = "          "
        for lvl in range(6):
            f.write(f"{ind}level{lvl}:\n")
            ind += "  "
        for a in range(4):
            f.write(f"{ind}group{a}:\n")
            for b in range(4):
                f.write(f"{ind}  sub{b}:\n")
                for c in range(6):
                    f.write(f"{ind}    f{c}: v{i}{a}{b}{c}\n")
        f.write(f"        Next: S{i + 1}\n" if i + 1 < n else "        End: true\n")
digits = "0123456789abcdefghijklmnopqrstuvwxyz"
def b36(n):
    s = ""
    while True:
        s = digits[n % 36] + s
        n //= 36
        if n == 0:
            return s
with open(f"{w}/keys-380k/m.yaml", "w") as f:
    f.write(head.format(name="more-keys"))
    f.write("    StartAt: P\n    States:\n      P:\n        Type: Pass\n        End: true\n        Result: {")
    f.write(",".join(f'"{b36(i)}":1' for i in range(380_000)))
    f.write("}\n")
PY
for d in keys-100k nested-3mib keys-380k; do
  printf '%s: %s bytes, ' "$d" "$(stat -c %s "$WORK/$d/m.yaml")"
  "$BIN" validate "$WORK/$d"
done
cat > "$WORK/peer.py" <<'PY'
import sys, yaml
L = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
with open(sys.argv[1]) as fh:
    print(sum(1 for _ in yaml.load_all(fh, Loader=L)), "documents")
PY
for d in keys-100k nested-3mib keys-380k; do
  rss=$( { /usr/bin/time -f '%M' "$BIN" validate "$WORK/$d" >/dev/null; } 2>&1 | tail -1 )
  s=$(date +%s%N); for _ in $(seq "$RUNS"); do "$BIN" validate "$WORK/$d" >/dev/null; done; e=$(date +%s%N)
  line="$d: sfn-operator validate $(( (e - s) / RUNS / 1000000 )) ms per run (mean of $RUNS), peak RSS $((rss / 1024)) MiB"
  if [ -x "$PEER_PY" ]; then
    s=$(date +%s%N); for _ in $(seq "$RUNS"); do "$PEER_PY" "$WORK/peer.py" "$WORK/$d/m.yaml" >/dev/null; done; e=$(date +%s%N)
    line="$line; PyYAML parse-only peer $(( (e - s) / RUNS / 1000000 )) ms"
  fi
  echo "$line"
done
