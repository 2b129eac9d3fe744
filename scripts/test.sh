#!/usr/bin/env bash
# The project's test command: installs the independent peers the tests talk to (moto server, the
# AWS CLI, kubernetes-validate, pytest for moto's own suite) into .venv-peers, then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${SFN_OPERATOR_PEERS_VENV:-$PWD/.venv-peers}"
if [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/aws" ] || [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/pytest" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/peers-requirements.txt
fi
export SFN_OPERATOR_PEERS_VENV="$venv"
# Mermaid itself (npm, with jsdom) checks the Mermaid text of `graph -o mermaid` and `diff -o
# markdown` (tests/pictures.rs), and renders it in chromium (with marked for the Markdown around
# it, tests/console_browser.rs): installed beside the peers, pinned in scripts/mermaid/package.json.
if command -v npm >/dev/null; then
  if ! cmp -s scripts/mermaid/package.json "$venv/mermaid/package.json" || [ ! -d "$venv/mermaid/node_modules/mermaid" ]; then
    echo "scripts/test.sh: installing mermaid, jsdom and marked (npm) into $venv/mermaid" >&2
    mkdir -p "$venv/mermaid"
    cp scripts/mermaid/package.json "$venv/mermaid/package.json"
    (cd "$venv/mermaid" && npm install --no-audit --no-fund --silent >&2)
  fi
else
  echo "scripts/test.sh: npm is missing: tests/pictures.rs skips checking Mermaid text with Mermaid; tests/console_browser.rs fails" >&2
fi
# Debian packages the tests use, installed when missing, as root or through sudo; otherwise the
# tests that need them say how to install them: rsvg-convert (librsvg2-bin) turns the pictures of
# tests/pictures.rs into PNGs; Graphviz's dot (graphviz) reads their DOT text; chromium and chromedriver (chromium-driver) are the headless
# browser of tests/console_browser.rs.
missing=()
command -v rsvg-convert >/dev/null || missing+=(librsvg2-bin)
command -v dot >/dev/null || missing+=(graphviz)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); elif command -v sudo >/dev/null; then apt_get=(sudo apt-get); else apt_get=(); fi
  if [ ${#apt_get[@]} -gt 0 ] && command -v apt-get >/dev/null; then
    echo "scripts/test.sh: installing ${missing[*]} with ${apt_get[*]}" >&2
    "${apt_get[@]}" install -y -q "${missing[@]}" >&2 || { "${apt_get[@]}" update -q >&2 && "${apt_get[@]}" install -y -q "${missing[@]}" >&2; }
  else
    echo "scripts/test.sh: ${missing[*]} missing and cannot be installed here (needs apt-get as root or sudo)" >&2
  fi
fi
cargo test --locked --all-targets --no-fail-fast "$@"
