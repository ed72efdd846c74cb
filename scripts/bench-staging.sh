#!/usr/bin/env bash
# Benchmark of staging writes, all peers in one run on the same generated tree (1 GiB default):
#  1. initial: `rsync -a` of the tree into MOUNTPOINT/staging/host/bench + `backupfs commit`,
#     vs `restic backup` of the tree, vs plain `rsync -a` to a local directory;
#  2. incremental after changing 1% of the bytes (scripts/lib/mutate-tree.py): the same three.
# Also `rsync -a` into an rclone mount (local directory, --vfs-cache-mode writes): what rsync
# through a mature Go FUSE filesystem costs on this machine, the write-side peer of the mount.
# Prints wall times, ratios, the commit's own time, the bytes each backup added, and the FUSE
# requests one rsync'd file cost (per opcode, from the mount's user.backupfs.fuse-requests), and,
# where perf and the kernel's fuse tracepoints exist, what each of them cost as the kernel timed it.
# usage: scripts/bench-staging.sh [TREE_MIB]   (default 1024)
#   BENCH_MOUNT_OPTS: extra `backupfs mount` options, e.g. "--fuse-uring on" or "--fuse-uring off"
#     (the default, auto, serves over io_uring when the kernel's fuse.enable_uring is Y; the run prints which)
#   BENCH_SKIP_RCLONE=1: leave out the rclone mount (the slowest peer; its uploads are waited for)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
ensure_dotnet
ensure_apt_packages fuse3 rsync restic attr rclone
build_backupfs
mib=${1:-1024}
work=${BENCH_DIR:-/var/tmp/backupfs-bench-staging}
mkdir -p "$work"
tree="$work/tree-$mib"
[ -d "$tree" ] || python3 scripts/lib/gen-tree.py "$tree" "$mib" >/dev/null
src="$work/src"; mnt="$work/mnt"; plain="$work/plain"; rcmnt="$work/rcmnt"
unmount() {
  fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
  fusermount3 -u "$rcmnt" 2>/dev/null || umount -l "$rcmnt" 2>/dev/null || true
}
trap unmount EXIT
unmount
rm -rf "$src" "$plain" "$work/ds" "$work/restic" "$work/rclone-target" "$work/rclone-cache"
mkdir -p "$mnt" "$rcmnt" "$work/rclone-target"
skip_rclone=${BENCH_SKIP_RCLONE:-0}
if [ "$skip_rclone" != 1 ]; then
  rclone mount "$work/rclone-target" "$rcmnt" --daemon --vfs-cache-mode writes --cache-dir "$work/rclone-cache" 2>/dev/null
  for _ in $(seq 50); do mountpoint -q "$rcmnt" && break; sleep 0.1; done
fi
cp -a "$tree" "$src"
export RESTIC_PASSWORD=bench
restic init -q -r "$work/restic" >/dev/null
"$BACKUPFS" init "$work/ds" >/dev/null
"$BACKUPFS" mount "$work/ds" "$mnt" --commit-delay 3600 ${BENCH_MOUNT_OPTS:-} >/dev/null
session="$mnt/staging/host/bench"
transport=$(getfattr --only-values -n user.backupfs.fuse-transport "$mnt" 2>/dev/null || echo unknown)
now() { date +%s.%N; }
warm() { find "$src" -type f -exec cat {} + >/dev/null; } # every tool reads the source from the page cache
# Before each timed tool: the previous one's work is finished, so no tool pays for another's. rclone
# uploads from its cache to the target seconds after rsync returns (--vfs-write-back 5s), and every
# tool leaves dirty pages; both were still being written while the next tool ran (the first BackupFs
# run followed `cp -a` of the tree, the incremental one followed rclone's 512 MiB of uploads).
rclone_uploading=0
settle() {
  for _ in $(seq $((rclone_uploading * 240))); do
    [ -z "$(rsync -a -n --delete --itemize-changes "$src/" "$work/rclone-target/" 2>/dev/null | head -1)" ] && break
    sleep 0.5
  done
  rclone_uploading=0
  sync
}
fuse_requests() { getfattr --only-values -n user.backupfs.fuse-requests "$mnt" 2>/dev/null; }
chunk_bytes() { du -sb "$work/ds/.chunks" | cut -f1; }
stat_of() { getfattr --only-values -n user.backupfs.last-commit "$session" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
restic_added() { restic backup -q --json -r "$work/restic" "$src" | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("message_type") == "summary": print(m["data_added"])'; }

run() { # phase
  settle; warm
  local t0 t1 t2 t3 t4 t5 t6 added
  local before; before=$(fuse_requests)
  local chunks_before; chunks_before=$(chunk_bytes)
  t0=$(now); rsync -a --delete "$src/" "$session/"; t1=$(now)
  eval "bfs_requests_$1=\"$before|$(fuse_requests)\""
  "$BACKUPFS" commit "$session" >/dev/null 2>&1; t2=$(now)
  eval "bfs_rsync_$1=$(python3 -c "print($t1-$t0)") bfs_commit_$1=$(python3 -c "print($t2-$t1)")"
  # Added: growth of the chunk store, so chunks stored in the background while rsync ran count too.
  eval "bfs_added_$1=$(( $(chunk_bytes) - chunks_before )) bfs_written_$1=$(stat_of written_bytes) bfs_prepared_$1=$(stat_of prepared_bytes)"
  eval "bfs_phases_$1=\"drain $(stat_of drain_ms) ms, write $(stat_of write_ms) ms, rebase $(stat_of rebase_ms) ms\""
  settle; warm
  t3=$(now); added=$(restic_added); t4=$(now)
  eval "restic_$1=$(python3 -c "print($t4-$t3)") restic_added_$1=$added"
  settle; warm
  t5=$(now); rsync -a --delete "$src/" "$plain/"; t6=$(now)
  eval "plain_$1=$(python3 -c "print($t6-$t5)")"
  if [ "$skip_rclone" = 1 ]; then eval "rclone_$1=0"; return; fi
  settle; warm
  t5=$(now); rsync -a --delete "$src/" "$rcmnt/"; t6=$(now); rclone_uploading=1
  eval "rclone_$1=$(python3 -c "print($t6-$t5)")"
}
run initial
settle # rclone's uploads of the first run finish before the source changes
python3 scripts/lib/mutate-tree.py "$src" 1 >/dev/null
run incremental
total=$(du -sb "$tree" | cut -f1)

python3 - "$mib" "$total" "$bfs_rsync_initial" "$bfs_commit_initial" "$restic_initial" "$plain_initial" "$bfs_added_initial" "$restic_added_initial" \
  "$bfs_rsync_incremental" "$bfs_commit_incremental" "$restic_incremental" "$plain_incremental" "$bfs_added_incremental" "$restic_added_incremental" "$bfs_written_incremental" \
  "$rclone_initial" "$rclone_incremental" "$bfs_prepared_initial" "$bfs_prepared_incremental" "$transport" <<'PY'
import sys
a = sys.argv[1:]; mib = int(a[0]); total = int(a[1])
def row(name, rs, cm, restic, plain, added, radded, rclone, prepared, written=None):
    rs, cm, restic, plain, rclone = map(float, (rs, cm, restic, plain, rclone)); added, radded = int(added), int(radded)
    bfs = rs + cm
    print(f"{name}:")
    print(f"  backupfs rsync+commit {bfs:7.2f} s  (rsync {rs:.2f} s, commit {cm:.2f} s)  added {added/2**20:8.1f} MiB ({100*added/total:.2f}% of the tree)")
    print(f"  backupfs cut {int(prepared or 0)/2**20:.1f} MiB of files in the background while rsync ran (the commit appended them by digest)")
    print(f"  backupfs commit's own time: {100*cm/rs:.1f}% of the rsync time (goal < 10%)")
    if written is not None: print(f"  backupfs commit re-read {int(written)/2**20:.1f} MiB of changed files")
    print(f"  restic backup         {restic:7.2f} s  added {radded/2**20:8.1f} MiB")
    print(f"  plain rsync           {plain:7.2f} s")
    if rclone > 0: print(f"  rsync into rclone mount {rclone:5.2f} s  (rsync alone into BackupFs staging: {rclone/rs:.2f}x faster than into rclone)")
    print(f"  ratio restic/backupfs {restic/bfs:.2f}x (>= 1: backupfs is faster); backupfs/plain rsync {bfs/plain:.2f}x")
print(f"tree: {mib} MiB ({total/2**20:.0f} MiB of files); BackupFs FUSE transport: {a[19]}")
row("initial", *a[2:8], a[15], a[17])
row("incremental after changing 1%", *a[8:14], a[16], a[18], written=a[14])
PY
files=$(find "$tree" -type f | wc -l)
python3 - "$files" "$bfs_requests_initial" "$bfs_requests_incremental" <<'PY'
import sys
files = int(sys.argv[1])
def parse(text): return {k: int(v) for k, v in (p.split("=") for p in text.split())}
for name, pair in (("initial", sys.argv[2]), ("incremental", sys.argv[3])):
    before, after = (parse(t) for t in pair.split("|"))
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    delta = {k: v for k, v in delta.items() if v > 0}
    total = sum(delta.values())
    print(f"FUSE requests of the {name} rsync: {total} = {total/files:.1f} per file ({files} files)")
    print("  " + "  ".join(f"{k} {v/files:.2f}" for k, v in sorted(delta.items(), key=lambda kv: -kv[1])))
PY
echo "commit phases in the mount (initial): $bfs_phases_initial"
echo "commit phases in the mount (incremental): $bfs_phases_incremental"
# What each round trip costs, as the kernel timed it: an extra, untimed rsync of the tree into a
# new session under `perf record` of the fuse tracepoints, discarded afterwards.
if command -v perf >/dev/null && [ "$(perf list 'fuse:*' 2>/dev/null | grep -c fuse_request_send)" -gt 0 ]; then
  settle; warm
  perf record -q -e fuse:fuse_request_send -e fuse:fuse_request_end -a -o "$work/fuse-trace.data" -- \
    rsync -a "$src/" "$mnt/staging/host/bench-trace/" >/dev/null 2>&1
  "$BACKUPFS" commit --discard "$mnt/staging/host/bench-trace" >/dev/null 2>&1 || true
  perf script -i "$work/fuse-trace.data" 2>/dev/null | python3 scripts/lib/fuse-latency.py "$files"
  rm -f "$work/fuse-trace.data"
fi
