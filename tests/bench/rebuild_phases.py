#!/usr/bin/env python3
"""Groups the samples of a `perf script` (recorded with call graphs) of
`ycr-projection-bench --mode=rebuild` into the parts of a projection build,
and prints each part's share of the samples. Each sample goes to the first
part (in the order below) that a frame of its stack names. See
PROJECTION_RESULTS.md.

Usage: perf script -i perf.data | tests/bench/rebuild_phases.py
"""
import collections
import sys

# (part, frame substrings), first match wins.
PARTS = [
    ("spill: sort and write a run", ["SpillBuildBatch", "WriteRun"]),
    ("commit: merge the runs into the generation",
     ["WriteState", "CommitBuildBatch"]),
    ("build batch: drop written entries", ["RocksDbBuildBatch::Written"]),
    ("build batch: reads missing the map (runs, store)",
     ["RocksDbBuildBatch::Lookup"]),
    ("apply: audit trail", ["AuditTrailProjection::Apply"]),
    ("apply: deadlines", ["DeadlinesProjection::Apply"]),
    ("apply: caseloads", ["CaseloadsProjection::Apply"]),
    ("decode the log (shared reader)", ["SharedLogReader::Decode"]),
    ("shared reader: hand-over, waits, chunk frees", ["SharedLogReader"]),
    ("runner: other", ["ProjectionRunner"]),
    ("RocksDB compaction and flush", ["CompactionJob", "FlushJob",
                                      "BGWorkCompaction", "BGWorkFlush"]),
]


def main():
    counts = collections.Counter()
    total = 0
    stack = []

    def flush():
        nonlocal total
        if not stack:
            return
        total += 1
        for part, needles in PARTS:
            if any(n in frame for frame in stack for n in needles):
                counts[part] += 1
                break
        else:
            counts["other (kernel, allocator outside the above, idle)"] += 1
        stack.clear()

    for line in sys.stdin:
        if not line.strip():
            flush()
        elif line.startswith(("\t", " ")):
            stack.append(line.strip())
    flush()
    for part, n in counts.most_common():
        print(f"{100.0 * n / max(total, 1):5.1f}%  {n:7d}  {part}")
    print(f"{total} samples")


if __name__ == "__main__":
    main()
