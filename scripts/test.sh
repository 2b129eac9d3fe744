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
# Mermaid itself (npm, with jsdom) checks the Mermaid text of `graph -o mermaid` and `diff -o
# markdown` (tests/pictures.rs): installed beside the peers, pinned in scripts/mermaid/package.json.
if command -v npm >/dev/null; then
  if ! cmp -s scripts/mermaid/package.json "$venv/mermaid/package.json" || [ ! -d "$venv/mermaid/node_modules/mermaid" ]; then
    echo "scripts/test.sh: installing mermaid and jsdom (npm) into $venv/mermaid" >&2
    mkdir -p "$venv/mermaid"
    cp scripts/mermaid/package.json "$venv/mermaid/package.json"
    (cd "$venv/mermaid" && npm install --no-audit --no-fund --silent >&2)
  fi
else
  echo "scripts/test.sh: npm is missing: tests/pictures.rs skips checking Mermaid text with Mermaid" >&2
fi
# rsvg-convert (Debian's librsvg2-bin) turns the pictures of tests/pictures.rs into PNGs: installed
# when missing, as root or through sudo; otherwise that test says how to install it.
if ! command -v rsvg-convert >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); elif command -v sudo >/dev/null; then apt_get=(sudo apt-get); else apt_get=(); fi
  if [ ${#apt_get[@]} -gt 0 ] && command -v apt-get >/dev/null; then
    echo "scripts/test.sh: installing librsvg2-bin (rsvg-convert) with ${apt_get[*]}" >&2
    "${apt_get[@]}" install -y -q librsvg2-bin >&2 || { "${apt_get[@]}" update -q >&2 && "${apt_get[@]}" install -y -q librsvg2-bin >&2; }
  else
    echo "scripts/test.sh: rsvg-convert is missing and cannot be installed here (needs apt-get as root or sudo)" >&2
  fi
fi
cargo test --locked --all-targets --no-fail-fast "$@"
