#!/usr/bin/env bash
# Fuzzes a real node from a configured peer for MINUTES minutes (default 10):
# mutated node-to-node frames (bit flips, truncations, inserted bytes, lengths,
# counts and u64 fields set to 2^63, 2^64-1, ...) on the peer's DEALER, its
# ROUTER and its PUB, with a PEER-PING and an admin status after each batch of
# 200 (Tests/SealpostNodeTests/Federation/PeerFuzzTests.swift). Runs of 60 s with fresh
# seeds; a crashed or stuck run is counted and its seed printed, and the next
# run goes on.
#
# Usage: deploy/fuzz-peer.sh [MINUTES] [FIRST_SEED]
# Needs a built test bundle (`swift build --build-tests`).
set -uo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-10}
seed=${2:-$(date +%s)}
case "$minutes" in ''|*[!0-9.]*) echo "error: MINUTES must be a number, e.g. deploy/fuzz-peer.sh 10" >&2; exit 2 ;; esac
case "$seed" in ''|*[!0-9]*) echo "error: FIRST_SEED must be a whole number" >&2; exit 2 ;; esac
run_seconds=60
log=$(mktemp "${TMPDIR:-/tmp}/fuzz-peer.XXXXXX")
trap 'rm -f "$log"' EXIT

start=$(date +%s)
end=$(awk -v s="$start" -v m="$minutes" 'BEGIN { printf "%d", s + m * 60 }')
runs=0 frames=0 crashes=0 failed_seeds=""
while [ "$(date +%s)" -lt "$end" ]; do
    left=$(( end - $(date +%s) ))
    secs=$(( left < run_seconds ? left : run_seconds ))
    [ "$secs" -lt 1 ] && break
    SEALPOST_FUZZ_SEED=$seed SEALPOST_FUZZ_SECONDS=$secs \
        swift test --skip-build --filter PeerFuzzTests/testFuzzedPeerFramesNeverStopTheNode >"$log" 2>&1
    rc=$?
    runs=$((runs + 1))
    line=$(grep -o 'fuzz-peer: seed [0-9]* frames [0-9]*' "$log" | tail -1)
    if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
        crashes=$((crashes + 1))
        failed_seeds="$failed_seeds $seed"
        echo "run $runs: seed $seed FAILED (exit $rc); last lines:" >&2
        grep -E 'error|Fatal|fuzz-peer' "$log" | tail -5 >&2
    else
        n=${line##* }
        frames=$((frames + n))
        echo "run $runs: seed $seed, $n frames, node answered after every batch"
    fi
    seed=$((seed + 1))
done
elapsed=$(( $(date +%s) - start ))
echo "fuzz-peer: $frames frames in $runs runs, $(awk -v e="$elapsed" 'BEGIN { printf "%.1f", e / 60 }') minutes, crashes $crashes${failed_seeds:+ (seeds:$failed_seeds)}"
[ "$crashes" -eq 0 ]
