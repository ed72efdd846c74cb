#!/usr/bin/env python3
"""Changes about PERCENT of a tree's bytes in place (deterministic): rewrites a slice of some
small files, appends to a few, and overwrites a region in the middle of each large file.

usage: mutate-tree.py DIR [PERCENT] [SEED]
"""
import os, random, sys

root = sys.argv[1]
percent = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
total = sum(os.path.getsize(f) for f in files)
budget = int(total * percent / 100)
changed = 0
large = [f for f in files if os.path.getsize(f) > 16 * 1024 * 1024]
small = [f for f in files if f not in large]
for f in large:  # half the budget: one region in each large file
    size = os.path.getsize(f)
    n = min(budget // 2 // max(1, len(large)), size // 2)
    with open(f, "r+b") as fh:
        fh.seek(size // 2)
        fh.write(rng.randbytes(n))
    changed += n
rng.shuffle(small)
for f in small:
    if changed >= budget:
        break
    data = rng.randbytes(rng.randrange(512, 8192))
    with open(f, "ab") as fh:
        fh.write(data)
    changed += os.path.getsize(f)  # the whole file counts as changed
print(f"changed about {changed // 1024} KiB of {total // 1024} KiB ({100.0 * changed / total:.2f}%)")
