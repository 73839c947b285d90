#!/usr/bin/env python3
"""Ranks XCTest cases by time from a `swift test` log.

    swift test 2>&1 | tee /tmp/suite.log
    python3 deploy/test-times.py /tmp/suite.log [--top 25] [--compare OLD.log]

Prints the slowest tests, the per-class totals and the sum; with --compare, the same
tests' times in an older log beside them (compare per-test times, not totals taken at
different loads). Reads both the Linux form `Test Case 'Class.test' passed (1.234 seconds)`
and the Darwin form `Test Case '-[Module.Class test]' passed (1.234 seconds)`.
"""
import argparse
import re
import sys
from collections import defaultdict

LINE = re.compile(r"Test Case '(?:-\[)?([\w.]+?)[. ](\w+)\]?' (passed|failed|skipped) \((\d+(?:\.\d+)?) seconds\)")


def read(path):
    times = {}
    outcome = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.search(line)
            if m:
                cls, test, result, secs = m.group(1).split(".")[-1], m.group(2), m.group(3), float(m.group(4))
                times[(cls, test)] = secs
                outcome[(cls, test)] = result
    return times, outcome


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("log")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--classes", type=int, default=0, help="classes to show (0: all)")
    p.add_argument("--compare", help="an older log: show its time for the same tests")
    a = p.parse_args()
    times, outcome = read(a.log)
    if not times:
        sys.exit(f"no 'Test Case ... seconds' lines in {a.log}")
    old = read(a.compare)[0] if a.compare else {}

    def fmt(key, secs):
        extra = ""
        if old:
            o = old.get(key)
            extra = f"  (was {o:7.2f})" if o is not None else "  (new)"
        mark = "" if outcome[key] == "passed" else f"  [{outcome[key]}]"
        return f"{secs:8.2f}{extra}  {key[0]}.{key[1]}{mark}"

    print(f"slowest {a.top} of {len(times)} tests (seconds):")
    for key, secs in sorted(times.items(), key=lambda kv: -kv[1])[: a.top]:
        print(fmt(key, secs))
    per = defaultdict(float)
    count = defaultdict(int)
    oldper = defaultdict(float)
    for (cls, _), secs in times.items():
        per[cls] += secs
        count[cls] += 1
    for (cls, _), secs in old.items():
        oldper[cls] += secs
    print("\nper class (seconds, tests):")
    ranked = sorted(per.items(), key=lambda kv: -kv[1])
    for cls, secs in ranked[: a.classes or len(ranked)]:
        extra = f"  (was {oldper[cls]:7.2f})" if old else ""
        print(f"{secs:8.2f}{extra}  {count[cls]:3d}  {cls}")
    total = sum(times.values())
    extra = f"  (was {sum(old.values()):.2f} over {len(old)} tests)" if old else ""
    print(f"\ntotal {total:.2f} s over {len(times)} tests{extra}")
    failed = [k for k, v in outcome.items() if v == "failed"]
    if failed:
        print("failed: " + ", ".join(f"{c}.{t}" for c, t in failed))


if __name__ == "__main__":
    main()
