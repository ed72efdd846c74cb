#!/usr/bin/env bash
# Benchmark of the mount, all peers in one run on the same generated data:
#  - sequential `dd bs=1M` of a 1 GiB file from a snapshot, cold (fresh mount, dropped page
#    cache) and warm (second read), through BackupFs, restic mount, borg mount, and rclone mount
#    of a plain directory holding the same file (a mature Go FUSE passthrough), plus `cat` of
#    the plain file;
#  - `find -type f | wc -l` and `du -s` over a 100,000-file snapshot through BackupFs, restic, borg;
#  - peak RSS of the BackupFs mount process;
#  - the same 1 GiB file backed up encrypted (`--keyfile`) and read through `mount --keyfile`,
#    with the ratio encrypted/plain from this run;
#  - the read path against its physical limits, in the same run: the cold read through the mount
#    against a cold `cat` of the archive's chunk files (local store), and the cold read through a
#    mount of an S3 datastore (empty local cache) against an 8-way raw GET of the same chunk
#    objects with curl (scripts/start-s3.sh starts the gateway; BENCH_SKIP_S3=1 leaves it out).
#    Both ratios compare MiB/s of the file read with MiB/s of stored chunk bytes read or fetched.
# usage: scripts/bench-mount.sh [FILE_MIB] [SMALL_FILES]   (defaults 1024, 100000; BENCH_SKIP_PEERS=1: BackupFs only)
#        BACKUPFS=/path/to/backupfs: measure that build instead of building this tree
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
ensure_dotnet
ensure_apt_packages fuse3 restic borgbackup python3-llfuse rclone
if [ -n "${BACKUPFS:-}" ]; then export BACKUPFS; else build_backupfs; fi
mib=${1:-1024}; files=${2:-100000}
work=${BENCH_DIR:-/var/tmp/backupfs-bench-mount}
mkdir -p "$work"; mnt="$work/mnt"; mkdir -p "$mnt"
data="$work/data-$mib"; many="$work/many-$files"
# The stores below are built once and reused, so they must hold these trees: a run with another
# size or file count (a test, an earlier experiment) rebuilds them instead of walking its tree.
if [ "$(cat "$work/stores-for" 2>/dev/null)" != "$mib $files" ]; then
  rm -rf "$work/bfs" "$work/bfs-enc" "$work/bench-key.json" "$work/restic" "$work/borg" "$work/bfs-s3" "$work/bfs-s3.endpoint" "$work/s3-chunks.list"
  echo "$mib $files" > "$work/stores-for"
fi
export RESTIC_PASSWORD=bench BORG_PASSPHRASE="" BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes

if [ ! -f "$data/big.bin" ]; then
  mkdir -p "$data"
  python3 - "$data/big.bin" "$mib" <<'PY'
import random, sys
rng = random.Random(1); left = int(sys.argv[2]) * 2**20
with open(sys.argv[1], "wb") as f:
    while left > 0:
        n = min(left, 8 * 2**20)
        # half random, half text-like: compression matters to every tool
        f.write(rng.randbytes(n // 2) + (b"backup chunk index snapshot datastore\n" * (n // 38 + 1))[: n - n // 2])
        left -= n
PY
fi
if [ ! -d "$many" ]; then
  python3 - "$many" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 1000))
    if i % 1000 == 0: os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.txt" % i), "w") as f: f.write("file %d\n" % i)
PY
fi

if [ ! -d "$work/bfs-enc/.chunks" ]; then
  rm -rf "$work/bfs-enc" "$work/bench-key.json"
  "$BACKUPFS" init "$work/bfs-enc" >/dev/null
  "$BACKUPFS" key create "$work/bench-key.json" --kdf none >/dev/null
  "$BACKUPFS" backup "$work/bfs-enc" "$data" --type host --id big --keyfile "$work/bench-key.json" >/dev/null 2>&1
fi
if [ ! -d "$work/bfs/.chunks" ]; then
  rm -rf "$work/bfs" "$work/restic" "$work/borg"
  "$BACKUPFS" init "$work/bfs" >/dev/null
  "$BACKUPFS" backup "$work/bfs" "$data" --type host --id big >/dev/null 2>&1
  "$BACKUPFS" backup "$work/bfs" "$many" --type host --id many >/dev/null 2>&1
fi
if [ "${BENCH_SKIP_PEERS:-0}" != 1 ] && [ ! -d "$work/borg" ]; then
  rm -rf "$work/restic"
  restic init -q -r "$work/restic" >/dev/null
  (cd "$data" && restic backup -q -r "$work/restic" --tag big .) >/dev/null
  (cd "$many" && restic backup -q -r "$work/restic" --tag many .) >/dev/null
  borg init -e none "$work/borg"
  (cd "$data" && borg create "$work/borg::big" .)
  (cd "$many" && borg create "$work/borg::many" .)
fi

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
mounted() { mountpoint -q "$mnt"; }
wait_for() { for _ in $(seq 1 600); do [ -e "$1" ] && return 0; sleep 0.1; done; echo "timeout waiting for $1" >&2; return 1; }
unmount() { fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true; for _ in $(seq 1 100); do mounted || return 0; sleep 0.1; done; }
trap unmount EXIT
unmount
declare -A cold warm walk du_t

seq_read() { # name file
  drop; local t0 t1 t2; t0=$(now); dd if="$2" of=/dev/null bs=1M status=none; t1=$(now)
  dd if="$2" of=/dev/null bs=1M status=none; t2=$(now)
  cold[$1]=$(python3 -c "print($mib/($t1-$t0))"); warm[$1]=$(python3 -c "print($mib/($t2-$t1))")
}
meta_walk() { # name dir
  drop; local t0 t1 t2 n; t0=$(now); n=$(find "$2/" -type f | wc -l); t1=$(now); du -s "$2/" >/dev/null; t2=$(now)
  walk[$1]=$(python3 -c "print($t1-$t0)"); du_t[$1]=$(python3 -c "print($t2-$t1)")
  [ "$n" -eq "$files" ] || echo "warning: $1 found $n files, expected $files" >&2
}

rss_peak=0
track_rss() { local pid; pid=$(pgrep -f "backupfs mount .*$mnt.*--foreground" | head -1); [ -n "$pid" ] || return 0
  local hwm; hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status); [ "${hwm:-0}" -gt "$rss_peak" ] && rss_peak=$hwm; return 0; }

# plain file: cat
drop; t0=$(now); cat "$data/big.bin" >/dev/null; t1=$(now); cat_cold=$(python3 -c "print($mib/($t1-$t0))")
t0=$(now); cat "$data/big.bin" >/dev/null; t1=$(now); cat_warm=$(python3 -c "print($mib/($t1-$t0))")

# The chunk files behind big.bin's archive, in index order (a .didx: 4096-byte header, then
# 40-byte entries of end offset and digest).
chunk_list() { # store-dir snapshot-dir-glob -> digests, one a line, first use order
  python3 - "$@" <<'PY'
import glob, os, sys
snap = sorted(d for d in glob.glob(os.path.join(sys.argv[1], sys.argv[2])) if os.path.isdir(d))[-1]
name = "root.ppxar.didx" if os.path.exists(os.path.join(snap, "root.ppxar.didx")) else "root.pxar.didx"
data = open(os.path.join(snap, name), "rb").read()[4096:]
seen = set()
for i in range(0, len(data), 40):
    d = data[i + 8:i + 40].hex()
    if d not in seen: seen.add(d); print(d)
PY
}
raw_chunk_read() { # prints MiB/s of chunk-file bytes read cold, sequentially in index order
  local list="$work/chunks.list" bytes t0 t1
  chunk_list "$work/bfs" "host/big/*" | sed "s|^\(....\)|$work/bfs/.chunks/\1/\1|" > "$list"
  bytes=$(xargs -a "$list" stat -c %s | awk '{s+=$1} END {print s}')
  drop; t0=$(now); xargs -a "$list" cat > /dev/null; t1=$(now)
  python3 -c "import sys; print(int(sys.argv[1])/2**20/(float(sys.argv[3])-float(sys.argv[2])))" "$bytes" "$t0" "$t1"
}

# BackupFs
raw_before=$(raw_chunk_read)
"$BACKUPFS" mount "$work/bfs" "$mnt" >/dev/null; seq_read backupfs "$mnt/host/big/latest/root.pxar/big.bin"; track_rss; unmount
raw_after=$(raw_chunk_read)
raw_local=$(python3 -c "import sys; print((float(sys.argv[1])+float(sys.argv[2]))/2)" "$raw_before" "$raw_after")
"$BACKUPFS" mount "$work/bfs" "$mnt" >/dev/null; meta_walk backupfs "$mnt/host/many/latest/root.pxar"; track_rss; unmount
"$BACKUPFS" mount "$work/bfs-enc" "$mnt" --keyfile "$work/bench-key.json" >/dev/null; seq_read encrypted "$mnt/host/big/latest/root.pxar/big.bin"; track_rss; unmount
"$BACKUPFS" mount "$work/bfs" "$mnt" >/dev/null; seq_read plain2 "$mnt/host/big/latest/root.pxar/big.bin"; unmount

# S3: the same file in a datastore on the gateway, read cold through the mount (empty local
# cache) next to an 8-way raw GET of its chunk objects.
s3_limits() {
  scripts/start-s3.sh >/dev/null
  set -a; source .tmp/s3.env; set +a
  local store="$work/bfs-s3" stamp="$work/bfs-s3.endpoint" keys="$work/s3-chunks.list"
  local name; name=$(sed -n 2p "$stamp" 2>/dev/null || true)
  # The gateway keeps objects in memory: back up again after it was restarted.
  if [ "$(head -1 "$stamp" 2>/dev/null)" != "$BACKUPFS_S3_ENDPOINT" ]; then
    rm -rf "$store" "$stamp"; name="mountbench$(date +%s)"
    "$BACKUPFS" init "$store" --s3-endpoint "$BACKUPFS_S3_ENDPOINT" --bucket "$BACKUPFS_S3_BUCKET" --region "$BACKUPFS_S3_REGION" \
      --path-style --store-name "$name" >/dev/null
    "$BACKUPFS" backup "$store" "$data" --type host --id big >/dev/null 2>&1
    printf '%s\n%s\n' "$BACKUPFS_S3_ENDPOINT" "$name" > "$stamp"
  fi
  chunk_list "$store" "host/big/*" | sed "s|^\(....\)|$BACKUPFS_S3_BUCKET/$name/.chunks/\1/\1|" > "$keys"
  raw_get() {
    local t0 t1 bytes; t0=$(now)
    bytes=$(xargs -a "$keys" -P 8 -I{} curl -sf --aws-sigv4 "aws:amz:$BACKUPFS_S3_REGION:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
      --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -o /dev/null -w "%{size_download}\n" "$BACKUPFS_S3_ENDPOINT/{}" \
      | awk '{s+=$1} END {print s}'); t1=$(now)
    python3 -c "import sys; print(int(sys.argv[1])/2**20/(float(sys.argv[3])-float(sys.argv[2])))" "$bytes" "$t0" "$t1"
  }
  local g1 g2; g1=$(raw_get)
  find "$store/.chunks" -type f -delete
  "$BACKUPFS" mount "$store" "$mnt" >/dev/null; seq_read s3 "$mnt/host/big/latest/root.pxar/big.bin"; unmount
  g2=$(raw_get)
  raw_s3=$(python3 -c "import sys; print((float(sys.argv[1])+float(sys.argv[2]))/2)" "$g1" "$g2")
}
raw_s3=""; [ "${BENCH_SKIP_S3:-0}" = 1 ] || s3_limits
print_limits() {
  printf '\nread path against its physical limits (this run)\n'
  printf '  local: mount cold %.0f MiB/s of file, raw cold cat of its chunk files %.0f MiB/s: ratio %.2fx (goal >= 0.9)\n' \
    "${cold[backupfs]}" "$raw_local" "$(python3 -c "import sys; print(float(sys.argv[1])/float(sys.argv[2]))" "${cold[backupfs]}" "$raw_local")"
  [ -n "$raw_s3" ] && printf '  s3:    mount cold %.0f MiB/s of file, raw 8-way GET of its chunks %.0f MiB/s: ratio %.2fx (goal >= 0.9); warm %.0f MiB/s\n' \
    "${cold[s3]}" "$raw_s3" "$(python3 -c "import sys; print(float(sys.argv[1])/float(sys.argv[2]))" "${cold[s3]}" "$raw_s3")" "${warm[s3]}"
  return 0
}
if [ "${BENCH_SKIP_PEERS:-0}" = 1 ]; then
  printf '\nsequential dd bs=1M of a %d MiB file (MiB/s)\n  %-10s %10s %10s\n' "$mib" tool cold warm
  for t in backupfs plain2 encrypted; do printf '  %-10s %10.0f %10.0f\n' "$t" "${cold[$t]}" "${warm[$t]}"; done
  print_limits
  python3 -c "import sys; p=(float(sys.argv[1])+float(sys.argv[3]))/2; pw=(float(sys.argv[2])+float(sys.argv[4]))/2; print(f'ratio encrypted/plain (plain = mean of the runs before and after): cold {float(sys.argv[5])/p:.2f}x, warm {float(sys.argv[6])/pw:.2f}x (goal >= 0.8)')" \
    "${cold[backupfs]}" "${warm[backupfs]}" "${cold[plain2]}" "${warm[plain2]}" "${cold[encrypted]}" "${warm[encrypted]}"
  exit 0
fi
# restic
restic mount -q -r "$work/restic" "$mnt" >/dev/null 2>&1 & wait_for "$mnt/snapshots/latest"
seq_read restic "$(ls -d "$mnt"/tags/big/latest)/big.bin"; unmount; wait || true
restic mount -q -r "$work/restic" "$mnt" >/dev/null 2>&1 & wait_for "$mnt/snapshots/latest"
meta_walk restic "$(ls -d "$mnt"/tags/many/latest)/"; unmount; wait || true
# borg
borg mount "$work/borg::big" "$mnt"; seq_read borg "$mnt/big.bin"; unmount
borg mount "$work/borg::many" "$mnt"; meta_walk borg "$mnt"; unmount
# rclone: a plain directory holding the same file
rclone mount --read-only "$data" "$mnt" >/dev/null 2>&1 & wait_for "$mnt/big.bin"
seq_read rclone "$mnt/big.bin"; unmount; wait || true

printf '\nsequential dd bs=1M of a %d MiB file (MiB/s)\n' "$mib"
printf '  %-10s %10s %10s\n' tool cold warm
printf '  %-10s %10.0f %10.0f\n' "cat plain" "$cat_cold" "$cat_warm"
for t in backupfs plain2 encrypted rclone restic borg; do printf '  %-10s %10.0f %10.0f\n' "$t" "${cold[$t]}" "${warm[$t]}"; done
printf '\nmetadata walk of %d files (seconds)\n' "$files"
printf '  %-10s %10s %10s\n' tool find du
for t in backupfs restic borg; do printf '  %-10s %10.2f %10.2f\n' "$t" "${walk[$t]}" "${du_t[$t]}"; done
python3 - "${cold[backupfs]}" "${warm[backupfs]}" "${cold[rclone]}" "${warm[rclone]}" "${cold[restic]}" "${warm[restic]}" "${walk[backupfs]}" "${walk[restic]}" "${walk[borg]}" "$rss_peak" <<'PY'
import sys
bc, bw, rc, rw, rsc, rsw, wb, wr, wbo, rss = map(float, sys.argv[1:])
print(f"\nratios: warm read backupfs/rclone {bw/rw:.2f}x, backupfs/restic {bw/rsw:.2f}x; cold backupfs/rclone {bc/rc:.2f}x, backupfs/restic {bc/rsc:.2f}x")
print(f"        metadata walk restic/backupfs {wr/wb:.2f}x, borg/backupfs {wbo/wb:.2f}x")
print(f"peak RSS of the backupfs mount process: {rss/1024:.0f} MB")
PY
python3 -c "import sys; p=(float(sys.argv[1])+float(sys.argv[3]))/2; pw=(float(sys.argv[2])+float(sys.argv[4]))/2; print(f'        encrypted/plain read (plain = mean of the runs before and after): cold {float(sys.argv[5])/p:.2f}x, warm {float(sys.argv[6])/pw:.2f}x (goal >= 0.8)')" \
  "${cold[backupfs]}" "${warm[backupfs]}" "${cold[plain2]}" "${warm[plain2]}" "${cold[encrypted]}" "${warm[encrypted]}"
print_limits
