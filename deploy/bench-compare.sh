#!/usr/bin/env bash
# Runs the same sealpost-bench command with two builds, alternately and back to back
# (before, after, before, after, ...), and prints each run's figures with the load at
# its start and the CPU pressure over the 10 s before it (/proc/pressure/cpu "some" avg10,
# the share of time some runnable task waited for a core: other builds on the machine).
# This machine's disk and CPU vary by ±30 % between runs: only figures taken this way are
# compared in BENCHMARKS.md.
#
#   deploy/bench-compare.sh BEFORE_BIN_DIR AFTER_BIN_DIR RUNS -- federation --messages 100000 --size 256
#
# Each BIN_DIR holds a release `sealpost-bench` (and `sealpost-node` for --processes),
# e.g. copied from .build/release of two checkouts. The bench's --json line of every run
# goes to bench-compare-DATE.jsonl in the current directory.
set -euo pipefail
if [ $# -lt 4 ] || [ "$4" != "--" ]; then
    echo "usage: $0 BEFORE_BIN_DIR AFTER_BIN_DIR RUNS -- BENCH_ARGS..." >&2
    exit 2
fi
before=$1 after=$2 runs=$3
shift 4
for dir in "$before" "$after"; do
    [ -x "$dir/sealpost-bench" ] || { echo "no executable $dir/sealpost-bench" >&2; exit 2; }
done
out="bench-compare-$(date -u +%Y%m%dT%H%M%S).jsonl"
for i in $(seq 1 "$runs"); do
    for side in before after; do
        dir=$before
        [ "$side" = after ] && dir=$after
        load=$(cut -d' ' -f1-3 /proc/loadavg)
        psi=$(sed -n 's/^some avg10=\([0-9.]*\).*/\1/p' /proc/pressure/cpu 2>/dev/null || true)
        line=$(PATH="$dir:$PATH" "$dir/sealpost-bench" "$@" --json | tail -1)
        echo "{\"run\": $i, \"side\": \"$side\", \"load\": \"$load\", \"cpu_pressure_some_avg10\": \"${psi:-}\", \"result\": $line}" >> "$out"
        echo "run $i $side (load $load, CPU pressure ${psi:-?} %): $line"
    done
done
echo "all runs: $out"
