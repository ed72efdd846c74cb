#!/usr/bin/env python3
"""Per-opcode FUSE round trips as the kernel timed them: reads `perf script` output of the
fuse:fuse_request_send / fuse:fuse_request_end tracepoints on stdin and prints, per opcode, the
count per file, the mean and median time from the request's queueing to its answer, and the sum
over all requests (what the caller waited for, except for requests the kernel sends without
waiting, such as RELEASE).

usage: perf script -i DATA | fuse-latency.py FILES
"""
import collections, re, sys

files = int(sys.argv[1]) if len(sys.argv) > 1 else 1
pattern = re.compile(r"\s(\d+\.\d+):\s+fuse:fuse_request_(send|end): connection (\d+) req (\d+)(?: opcode \d+ \((\w+)\))?")
sent, waits = {}, collections.defaultdict(list)
for line in sys.stdin:
    m = pattern.search(line)
    if not m:
        continue
    at, kind, conn, req, name = m.groups()
    if kind == "send":
        sent[(conn, req)] = (float(at), name.removeprefix("FUSE_"))
    elif (start := sent.pop((conn, req), None)) is not None:
        waits[start[1]].append(float(at) - start[0])
total = sum(sum(v) for v in waits.values())
print(f"FUSE round trips of the traced rsync, as the kernel timed them: {total:.2f} s in all, {1e6 * total / files:.0f} us per file")
for name, v in sorted(waits.items(), key=lambda kv: -sum(kv[1])):
    v.sort()
    print(f"  {name:11} {len(v) / files:5.2f}/file  mean {1e6 * sum(v) / len(v):6.1f} us  median {1e6 * v[len(v) // 2]:6.1f} us  sum {sum(v):6.2f} s")
