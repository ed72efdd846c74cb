#!/usr/bin/env bash
# Benchmark of staging writes, all peers in one run on the same generated tree (1 GiB default):
#  1. initial: `rsync -a` of the tree into MOUNTPOINT/staging/host/bench + `backupfs commit`,
#     vs `restic backup` of the tree, vs plain `rsync -a` to a local directory;
#  2. incremental after changing 1% of the bytes (scripts/lib/mutate-tree.py): the same three.
# Also `rsync -a` into an rclone mount (local directory, --vfs-cache-mode writes): what rsync
# through a mature Go FUSE filesystem costs on this machine, the write-side peer of the mount.
# Prints wall times (medians over BENCH_ROUNDS rounds, each round's own figures below them), ratios
# (each the median of the rounds' ratios, min-max beside it), the commit's own time, the bytes each
# backup added, and the FUSE requests one rsync'd file cost (per opcode, from the mount's
# user.backupfs.fuse-requests, last round), and, where perf and the kernel's fuse tracepoints
# exist, what each of them cost as the kernel timed it.
# usage: scripts/bench-staging.sh [TREE_MIB]   (default 1024)
#   BENCH_MOUNT_OPTS: extra `backupfs mount` options, e.g. "--fuse-uring on" or "--fuse-uring off"
#     (the default, auto, serves over io_uring when the kernel's fuse.enable_uring is Y; the run prints which)
#   BENCH_SKIP_RCLONE=1: leave out the rclone mount (the slowest peer; its uploads are waited for)
#   BENCH_ROUNDS: how many times the whole comparison runs, each from a clean start (default 3); the
#     figures printed are medians, each ratio the median of the rounds' ratios with its min-max, since
#     one run of this shared VM varies by up to 2x (plain rsync of the same tree took 1.96-3.21 s)
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
skip_rclone=${BENCH_SKIP_RCLONE:-0}
rounds=${BENCH_ROUNDS:-3}
export RESTIC_PASSWORD=bench
session="$mnt/staging/host/bench"
results="$work/results"; : > "$results"
fresh_start() { # every store, copy and mount of an earlier round goes; the source is the tree again
  unmount
  rm -rf "$src" "$plain" "$work/ds" "$work/restic" "$work/rclone-target" "$work/rclone-cache"
  mkdir -p "$mnt" "$rcmnt" "$work/rclone-target"
  if [ "$skip_rclone" != 1 ]; then
    rclone mount "$work/rclone-target" "$rcmnt" --daemon --vfs-cache-mode writes --cache-dir "$work/rclone-cache" 2>/dev/null
    for _ in $(seq 50); do mountpoint -q "$rcmnt" && break; sleep 0.1; done
  fi
  cp -a "$tree" "$src"
  restic init -q -r "$work/restic" >/dev/null
  "$BACKUPFS" init "$work/ds" >/dev/null
  "$BACKUPFS" mount "$work/ds" "$mnt" --commit-delay 3600 ${BENCH_MOUNT_OPTS:-} >/dev/null
  transport=$(getfattr --only-values -n user.backupfs.fuse-transport "$mnt" 2>/dev/null || echo unknown)
}
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
  local t0 t1r t1 t2 t3 t4 t5 t6 added
  local before; before=$(fuse_requests)
  local chunks_before; chunks_before=$(chunk_bytes)
  t0=$(now); rsync -a --delete "$src/" "$session/"; t1r=$(now)
  eval "bfs_requests_$1=\"$before|$(fuse_requests)\""
  t1=$(now) # the commit's time is the command's own, not the reading of the request counters above
  "$BACKUPFS" commit "$session" >/dev/null 2>&1; t2=$(now)
  eval "bfs_rsync_$1=$(python3 -c "print($t1r-$t0)") bfs_commit_$1=$(python3 -c "print($t2-$t1)")"
  # Added: growth of the chunk store, so chunks stored in the background while rsync ran count too.
  eval "bfs_added_$1=$(( $(chunk_bytes) - chunks_before )) bfs_written_$1=$(stat_of written_bytes) bfs_prepared_$1=$(stat_of prepared_bytes)"
  eval "bfs_phases_$1=\"drain $(stat_of drain_ms) ms, write $(stat_of write_ms) ms, rebase $(stat_of rebase_ms) ms\""
  settle; warm
  t3=$(now); added=$(restic_added); t4=$(now)
  eval "restic_$1=$(python3 -c "print($t4-$t3)") restic_added_$1=$added"
  settle; warm
  t5=$(now); rsync -a --delete "$src/" "$plain/"; t6=$(now)
  eval "plain_$1=$(python3 -c "print($t6-$t5)")"
  eval "rclone_$1=0"
  if [ "$skip_rclone" != 1 ]; then
    settle; warm
    t5=$(now); rsync -a --delete "$src/" "$rcmnt/"; t6=$(now); rclone_uploading=1
    eval "rclone_$1=$(python3 -c "print($t6-$t5)")"
  fi
  local v="bfs_rsync_$1 bfs_commit_$1 restic_$1 plain_$1 bfs_added_$1 restic_added_$1 rclone_$1 bfs_prepared_$1 bfs_written_$1"
  echo "$1 $(for n in $v; do printf '%s ' "${!n:-0}"; done)" >> "$results"
}
for round in $(seq "$rounds"); do
  fresh_start
  run initial
  settle # rclone's uploads of the first run finish before the source changes
  python3 scripts/lib/mutate-tree.py "$src" 1 >/dev/null
  run incremental
  echo "round $round of $rounds done" >&2
done
total=$(du -sb "$tree" | cut -f1)

python3 - "$mib" "$total" "$results" "$transport" <<'PY'
import statistics, sys
mib, total, results, transport = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
names = "rsync commit restic plain added radded rclone prepared written".split()
phases = {}
for line in open(results):
    phase, *values = line.split()
    phases.setdefault(phase, []).append(dict(zip(names, map(float, values))))
def med(rounds, f): return statistics.median(f(r) for r in rounds)
def spread(rounds, f, unit="x", digits=2):
    v = [f(r) for r in rounds]
    return f"{statistics.median(v):.{digits}f}{unit}" + (f" ({min(v):.{digits}f}-{max(v):.{digits}f})" if len(v) > 1 else "")
def row(name, rounds, incremental):
    n = len(rounds)
    bfs = lambda r: r["rsync"] + r["commit"]
    print(f"{name} ({'median of ' + str(n) + ' rounds' if n > 1 else 'one round'}):")
    print(f"  backupfs rsync+commit {med(rounds, bfs):7.2f} s  (rsync {med(rounds, lambda r: r['rsync']):.2f} s, commit {med(rounds, lambda r: r['commit']):.2f} s)"
          f"  added {med(rounds, lambda r: r['added'])/2**20:8.1f} MiB ({100*med(rounds, lambda r: r['added'])/total:.2f}% of the tree)")
    print(f"  backupfs cut {med(rounds, lambda r: r['prepared'])/2**20:.1f} MiB of files in the background while rsync ran (the commit appended them by digest)")
    print(f"  backupfs commit's own time: {spread(rounds, lambda r: 100*r['commit']/r['rsync'], '%', 1)} of the rsync time (goal < 10%)")
    if incremental: print(f"  backupfs commit re-read {med(rounds, lambda r: r['written'])/2**20:.1f} MiB of changed files")
    print(f"  restic backup         {med(rounds, lambda r: r['restic']):7.2f} s  added {med(rounds, lambda r: r['radded'])/2**20:8.1f} MiB")
    print(f"  plain rsync           {med(rounds, lambda r: r['plain']):7.2f} s")
    if all(r["rclone"] > 0 for r in rounds):
        print(f"  rsync into rclone mount {med(rounds, lambda r: r['rclone']):5.2f} s  (rsync alone into BackupFs staging: {spread(rounds, lambda r: r['rclone']/r['rsync'])} faster than into rclone)")
    print(f"  ratio restic/backupfs {spread(rounds, lambda r: r['restic']/bfs(r))} (>= 1: backupfs is faster); backupfs/plain rsync {spread(rounds, lambda r: bfs(r)/r['plain'])}"
          f"; rsync alone/plain rsync {spread(rounds, lambda r: r['rsync']/r['plain'])}")
    if n > 1:
        for i, r in enumerate(rounds, 1):
            print(f"    round {i}: backupfs {r['rsync']:.2f} + {r['commit']:.2f} s, restic {r['restic']:.2f} s, plain {r['plain']:.2f} s:"
                  f" restic/backupfs {r['restic']/bfs(r):.2f}x, rsync alone/plain {r['rsync']/r['plain']:.2f}x")
print(f"tree: {mib} MiB ({total/2**20:.0f} MiB of files); BackupFs FUSE transport: {transport}")
row("initial", phases["initial"], False)
row("incremental after changing 1%", phases["incremental"], True)
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
    print(f"FUSE requests of the {name} rsync (last round): {total} = {total/files:.1f} per file ({files} files)")
    print("  " + "  ".join(f"{k} {v/files:.2f}" for k, v in sorted(delta.items(), key=lambda kv: -kv[1])))
PY
echo "commit phases in the mount, last round (initial): $bfs_phases_initial"
echo "commit phases in the mount, last round (incremental): $bfs_phases_incremental"
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
