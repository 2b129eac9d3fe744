#!/usr/bin/env bash
# The project's test command: installs the independent peers the tests talk to (moto server, the
# AWS CLI, kubernetes-validate) into .venv-peers, then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${SFN_OPERATOR_PEERS_VENV:-$PWD/.venv-peers}"
if [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/aws" ] || [ ! -x "$venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/peers-requirements.txt
fi
export SFN_OPERATOR_PEERS_VENV="$venv"
cargo test --locked --all-targets --no-fail-fast "$@"
