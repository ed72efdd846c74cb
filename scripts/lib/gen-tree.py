#!/usr/bin/env python3
"""Generates the benchmark tree: deterministic, mixed like a real server's files.

usage: gen-tree.py DIR [TOTAL_MIB] [SEED]
About 40% of the bytes are many small files (1-64 KiB, in nested directories), 60% a few
large files; half of all content is compressible text-like data, half random.
"""
import os, random, sys

def content(rng, size, compressible):
    if not compressible:
        return rng.randbytes(size)
    words = [b"backup", b"chunk", b"index", b"server", b"proxmox", b"datastore", b"snapshot",
             b"the", b"of", b"and", b"log", b"error", b"info", b"%d" % rng.randrange(10**6)]
    out = bytearray()
    while len(out) < size:
        line = b" ".join(rng.choice(words) for _ in range(12)) + b"\n"
        out += line * 8
    return bytes(out[:size])

def main():
    root = sys.argv[1]
    total = int(sys.argv[2]) * 1024 * 1024 if len(sys.argv) > 2 else 1024 * 1024 * 1024
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 42)
    os.makedirs(root, exist_ok=True)
    small_budget = int(total * 0.4)
    written, n = 0, 0
    while written < small_budget:
        d = os.path.join(root, "src", "d%02d" % (n % 50), "s%03d" % (n % 400 // 50))
        os.makedirs(d, exist_ok=True)
        size = rng.randrange(1024, 64 * 1024)
        with open(os.path.join(d, "f%06d.dat" % n), "wb") as f:
            f.write(content(rng, size, n % 2 == 0))
        written += size
        n += 1
    large = total - written
    big = os.path.join(root, "big")
    os.makedirs(big, exist_ok=True)
    sizes = [large // 3, large // 4, large // 6]
    sizes.append(large - sum(sizes))
    for i, size in enumerate(sizes):
        with open(os.path.join(big, "large%d.bin" % i), "wb") as f:
            left = size
            while left > 0:
                step = min(left, 8 * 1024 * 1024)
                f.write(content(rng, step, i % 2 == 1))
                left -= step
    print(f"{root}: {n} small files, {len(sizes)} large files, {total // (1024*1024)} MiB")

main()
