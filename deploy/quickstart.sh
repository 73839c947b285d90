#!/usr/bin/env bash
# Quick start: install what is missing, build, and run a node on embedded
# defaults (./sealpost-data, node 'local', tcp://127.0.0.1:7400).
# With --federation-demo: build, then start the four-unit demo federation
# (deploy/federation-demo.sh) instead.
set -euo pipefail
cd "$(dirname "$0")/.."

demo=0
case "${1:-}" in
    "") ;;
    --federation-demo) demo=1 ;;
    -h | --help)
        cat <<USAGE
usage: deploy/quickstart.sh [--federation-demo]

  (no option)         build, then run one node on embedded defaults in the
                      foreground (./sealpost-data, node 'local', tcp://127.0.0.1:7400)
  --federation-demo   build, then start four federated nodes in the background
                      (hq, traffic, criminal, district in ./demo-data; see
                      deploy/federation-demo.sh)
USAGE
        exit 0 ;;
    *) echo "usage: deploy/quickstart.sh [--federation-demo]" >&2; exit 64 ;;
esac
[ $# -le 1 ] || { echo "usage: deploy/quickstart.sh [--federation-demo]" >&2; exit 64; }

. deploy/lib/setup.sh
sealpost_require_swift
sealpost_install_deps

echo "==> building (release; the first build fetches and compiles dependencies)"
swift build -c release --product sealpost-node
swift build -c release --product sealpost
BIN="$(swift build -c release --show-bin-path)"

if [ "$demo" = 1 ]; then
    SEALPOST_BIN="$BIN" exec deploy/federation-demo.sh start
fi

cat <<MSG

==> starting a node on embedded defaults (Ctrl-C stops it)

In another terminal, from $(pwd):
  $BIN/sealpost-node invite alice            # prints a one-time code
  $BIN/sealpost join CODE --profile /tmp/alice
  $BIN/sealpost-node invite bob
  $BIN/sealpost join CODE --profile /tmp/bob
  $BIN/sealpost chat bob@local --profile /tmp/alice
  $BIN/sealpost chat alice@local --profile /tmp/bob

For four units chatting across relays, see deploy/federation-demo.sh
(or run deploy/quickstart.sh --federation-demo).

MSG
exec "$BIN/sealpost-node" run
