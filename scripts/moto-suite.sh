#!/usr/bin/env bash
# moto's own test suite against the sandbox (issue 23): moto 5.2.5's tests/test_stepfunctions and
# tests/test_apigateway in server mode (TEST_SERVER_MODE=true), every boto3 call sent to an
# `sfn-operator sandbox` that tests/moto-suite/sandbox_plugin.py starts (and restarts where moto
# would reset its server). Prints the counts and every failing test; exit 0 when the run finished,
# whatever the counts (tests/moto_suite.rs asserts on them).
#
#   scripts/moto-suite.sh [PYTEST ARGS...]     e.g. -k usage_plan, or one test file's node id
#
# Environment: SFN_OPERATOR_PEERS_VENV (default .venv-peers: moto, pytest, freezegun from
# scripts/peers-requirements.txt), SFN_OPERATOR_BIN (default: cargo build, then
# $CARGO_TARGET_DIR/debug/sfn-operator), MOTO_SUITE_PORT (default 4590), MOTO_SUITE_OUT (the
# JUnit XML, default target/moto-suite.xml).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
venv="${SFN_OPERATOR_PEERS_VENV:-$root/.venv-peers}"
if [ ! -x "$venv/bin/pytest" ] || [ ! -x "$venv/bin/moto_server" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/peers-requirements.txt
fi
# moto's test sources: its sdist from PyPI (the wheel has no tests), checked against its hash.
version=5.2.5
sha256=391857257d5dac144334013c2c10e599def5f0562f553e979160140bd7bd9cf6
suite="$venv/moto-suite/moto-$version"
if [ ! -f "$suite/tests/test_apigateway/test_apigateway.py" ]; then
  mkdir -p "$venv/moto-suite"
  sdist="$venv/moto-suite/moto-$version.tar.gz"
  if [ ! -f "$sdist" ]; then
    "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
      -d "$venv/moto-suite" "moto==$version"
  fi
  echo "$sha256  $sdist" | sha256sum -c --quiet -
  tar -xzf "$sdist" -C "$venv/moto-suite" "moto-$version/tests"
fi
if [ -z "${SFN_OPERATOR_BIN:-}" ]; then
  cargo build --quiet --bin sfn-operator
  SFN_OPERATOR_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/sfn-operator"
fi
out="${MOTO_SUITE_OUT:-${CARGO_TARGET_DIR:-$root/target}/moto-suite.xml}"
mkdir -p "$(dirname "$out")"
export SFN_OPERATOR_BIN MOTO_SUITE_PORT="${MOTO_SUITE_PORT:-4590}"
export TEST_SERVER_MODE=true TEST_SERVER_MODE_ENDPOINT="http://127.0.0.1:$MOTO_SUITE_PORT"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
unset AWS_ENDPOINT_URL AWS_PROFILE
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(tests/test_stepfunctions tests/test_apigateway)
cd "$suite"
PYTHONPATH="$root/tests/moto-suite" "$venv/bin/python" -m pytest -p sandbox_plugin -p no:cacheprovider \
  -q --tb=no -rN --junitxml="$out" "${args[@]}" >/dev/null || true
"$venv/bin/python" "$root/tests/moto-suite/summary.py" "$out"
