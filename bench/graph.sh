#!/usr/bin/env bash
# Drawing every corpus definition (issue 24): `sfn-operator graph FILE` (layout and SVG, one process
# per definition) for the 174 definitions of tests/corpus/asl, against the peer a user would reach
# for, Graphviz's `dot -Tsvg` laying out and drawing the same graphs (the DOT text `graph -o dot`
# writes, prepared before the clock starts), one process per definition too, in the same run.
# Prints a Markdown table: the median of RUNS whole passes over the corpus, per pass and per
# definition, and the ratio.
# A last row times the drawing alone, in one process (examples/graph_bench.rs, release build):
# what is left of a pass once process start-up is taken out.
# Usage: [BIN=path/to/sfn-operator] [RUNS=5] bench/graph.sh
#   (builds the release binary unless BIN is given; needs `dot` from Debian's graphviz)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN="${CARGO_TARGET_DIR:-target}/release/sfn-operator"
fi
command -v dot >/dev/null || { echo "bench/graph.sh: needs Graphviz's dot (apt-get install graphviz)" >&2; exit 1; }
RUNS="${RUNS:-5}"
CORPUS=tests/corpus/asl
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
n=0
for f in "$CORPUS"/*; do
  "$BIN" graph -o dot "$f" > "$WORK/$n.dot"
  n=$((n + 1))
done

# Seconds for one pass of COMMAND over the corpus (the median of RUNS passes).
median_pass() {
  local times=()
  for _ in $(seq "$RUNS"); do
    local start end
    start=$(date +%s.%N)
    "$@"
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
ours_pass() {
  for f in "$CORPUS"/*; do "$BIN" graph "$f" > "$WORK/ours.svg"; done
}
dot_pass() {
  for i in $(seq 0 $((n - 1))); do dot -Tsvg "$WORK/$i.dot" > "$WORK/dot.svg"; done
}
ours=$(median_pass ours_pass)
peer=$(median_pass dot_pass)
printf '| draw %d definitions as SVG (median of %d passes) | seconds per pass | ms per definition |\n|---|---|---|\n' "$n" "$RUNS"
printf '| sfn-operator graph | %.3f | %.2f |\n' "$ours" "$(echo "$ours * 1000 / $n" | bc -l)"
printf '| Graphviz dot -Tsvg (%s) | %.3f | %.2f |\n' "$(dot -V 2>&1 | awk '{print $5}')" "$peer" "$(echo "$peer * 1000 / $n" | bc -l)"
printf '| ratio (dot / sfn-operator) | %.2f× | |\n' "$(echo "$peer / $ours" | bc -l)"
cargo run --release --quiet --example graph_bench -- 9
