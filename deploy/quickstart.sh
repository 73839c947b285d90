#!/usr/bin/env bash
# Quick start: install what is missing, build, and run a node on embedded
# defaults (./sealpost-data, node 'local', tcp://127.0.0.1:7400).
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/lib/setup.sh
sealpost_require_swift
sealpost_install_deps

echo "==> building (release; the first build fetches and compiles dependencies)"
swift build -c release --product sealpost-node
swift build -c release --product sealpost
BIN="$(swift build -c release --show-bin-path)"

cat <<MSG

==> starting a node on embedded defaults (Ctrl-C stops it)

In another terminal, from $(pwd):
  $BIN/sealpost-node invite alice            # prints a one-time code
  $BIN/sealpost join CODE --profile /tmp/alice
  $BIN/sealpost-node invite bob
  $BIN/sealpost join CODE --profile /tmp/bob
  $BIN/sealpost chat bob@local --profile /tmp/alice
  $BIN/sealpost chat alice@local --profile /tmp/bob

MSG
exec "$BIN/sealpost-node" run
