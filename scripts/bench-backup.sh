#!/usr/bin/env bash
# Benchmark: back up the same generated tree with `backupfs backup` and with `restic backup`
# (Debian's restic, local repository) in one run; print wall times, their ratio and bytes stored,
# next to this machine's single-core SHA-256 + zstd-1 rate on the large files; then the same
# backup encrypted (`--keyfile`, AES-256-GCM) into a second datastore, and the ratio encrypted/plain.
# usage: scripts/bench-backup.sh [TREE_MIB]   (default 1024; BENCH_SKIP_PEERS=1 skips restic)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
ensure_dotnet
ensure_apt_packages restic zstd
build_backupfs
mib=${1:-1024}
work=${BENCH_DIR:-/var/tmp/backupfs-bench}
mkdir -p "$work"
tree="$work/tree-$mib"
[ -d "$tree" ] || python3 scripts/lib/gen-tree.py "$tree" "$mib" >/dev/null
rm -rf "$work/ds" "$work/ds-enc" "$work/restic" "$work/bench-key.json"
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
cat "$tree"/big/* > /dev/null   # both tools then read from the page cache
find "$tree" -type f -exec cat {} + > /dev/null

now() { date +%s.%N; }
"$BACKUPFS" init "$work/ds" >/dev/null
t0=$(now); "$BACKUPFS" backup "$work/ds" "$tree" --type host --id bench >/dev/null; t1=$(now)
# Encrypted: same tree, fresh datastore (nothing to deduplicate against), a kdf-none key.
"$BACKUPFS" init "$work/ds-enc" >/dev/null
"$BACKUPFS" key create "$work/bench-key.json" --kdf none >/dev/null
te0=$(now); "$BACKUPFS" backup "$work/ds-enc" "$tree" --type host --id bench --keyfile "$work/bench-key.json" >/dev/null 2>&1; te1=$(now)
export RESTIC_PASSWORD=bench
if [ "${BENCH_SKIP_PEERS:-0}" = 1 ]; then t2=0; t3=1; else
restic init -q -r "$work/restic" >/dev/null
t2=$(now); restic backup -q -r "$work/restic" "$tree" >/dev/null; t3=$(now)
fi

# Single-core reference: SHA-256 and zstd -1 over the large files, one after the other.
t4=$(now); cat "$tree"/big/* | sha256sum >/dev/null; t5=$(now)
t6=$(now); cat "$tree"/big/* | zstd -1 -T1 -q -c >/dev/null; t7=$(now)
big=$(du -cb "$tree"/big/* | tail -1 | cut -f1)

python3 - "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" "$t6" "$t7" "$big" "$work" "$mib" "$te0" "$te1" <<'PY'
import sys, subprocess
t = list(map(float, sys.argv[1:9])); big = int(sys.argv[9]); work = sys.argv[10]; mib = int(sys.argv[11])
enc = float(sys.argv[13]) - float(sys.argv[12])
bfs, restic = t[1]-t[0], t[3]-t[2]
ref = (t[5]-t[4]) + (t[7]-t[6])
# file bytes only: a datastore's 65536 empty chunk directories are not stored data
size = lambda p: sum(int(x) for x in subprocess.check_output(["find", p, "-type", "f", "-printf", "%s\\n"]).split())
print(f"tree: {mib} MiB")
print(f"backupfs backup: {bfs:7.2f} s  {mib/bfs:7.1f} MiB/s  stored {size(work+'/ds/.chunks')/2**20:8.1f} MiB")
print(f"backupfs backup --keyfile (encrypted): {enc:7.2f} s  {mib/enc:7.1f} MiB/s  stored {size(work+'/ds-enc/.chunks')/2**20:8.1f} MiB")
print(f"ratio encrypted/plain throughput: {bfs/enc:.2f}x (goal >= 0.8)")
if restic > 1:
    print(f"restic backup:   {restic:7.2f} s  {mib/restic:7.1f} MiB/s  stored {size(work+'/restic')/2**20:8.1f} MiB")
    print(f"ratio restic/backupfs wall time: {restic/bfs:.2f}x (>= 1 means backupfs is faster)")
print(f"single-core sha256+zstd-1 on the large files: {big/2**20/ref:.1f} MiB/s; backupfs whole tree: {mib/bfs:.1f} MiB/s ({(big/2**20/ref)/(mib/bfs):.2f}x of reference time)")
PY
