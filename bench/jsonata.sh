#!/usr/bin/env bash
# JSONata engine timings on a release build: engine start, parse of every distinct expression of
# the corpus and the oracle, evaluation of a typical Output object (examples/jsonata_bench.rs).
# Usage: bench/jsonata.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet --example jsonata_bench
