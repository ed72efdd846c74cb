#!/usr/bin/env bash
# Benchmark of garbage collection: a store with 50 snapshots of 64 KiB-chunk images (each
# snapshot shares most chunks with the previous one), then all but the newest 5 snapshots forgotten and
# `backupfs gc` run; on local disk and on the S3 gateway. Prints mark and sweep times, chunks
# removed and kept, and the S3 requests (LIST pages, DeleteObjects batches, no GETs while marking).
# usage: scripts/bench-gc.sh [LOCAL_CHUNKS] [S3_CHUNKS]   (defaults 100000 and 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
ensure_dotnet
build_backupfs
scripts/start-s3.sh >/dev/null
set -a; source .tmp/s3.env; set +a
local_chunks=${1:-100000}; s3_chunks=${2:-20000}
work=${BENCH_DIR:-/var/tmp/backupfs-bench-gc}
rm -rf "$work"; mkdir -p "$work"
snapshots=50

# Image i: the previous image with a fresh random slice, so every snapshot adds new chunks and
# shares the rest. Sized so the store ends with about the requested number of distinct chunks.
populate() { # store total_chunks
  local store=$1 total=$2
  local per=$(( total / (snapshots + 1) ))             # new chunks per snapshot
  local base=$(( per * 2 ))                             # image size in chunks
  head -c $(( base * 65536 )) /dev/urandom > "$work/img"
  for i in $(seq 1 $snapshots); do
    dd if=/dev/urandom of="$work/img" bs=65536 count=$per seek=$(( (i * per) % base )) conv=notrunc status=none
    "$BACKUPFS" backup "$store" "$work/img" --image --chunk-size 64 --type vm --id 100 --time "$(date -u -d "@$(( 1700000000 + i * 3600 ))" +%Y-%m-%dT%H:%M:%SZ)" >/dev/null 2>&1
  done
  # keep the newest 5 snapshots: the chunks only older ones used become garbage
  for s in $("$BACKUPFS" snapshots "$store" | awk '{print $1}' | head -n $(( snapshots - 5 ))); do "$BACKUPFS" forget "$store" "$s" >/dev/null; done
  # age all chunks past the cutoff: marking makes the referenced ones young again
  find "$store/.chunks" -type f -exec touch -a -d '3 days ago' {} + 
}

run_gc() { # label store
  local out; out=$("$BACKUPFS" gc "$2" --cutoff-seconds 3600 2>&1)
  local mark sweep removed kept s3
  mark=$(grep -o 'gc-mark: .* in [0-9.]* s' <<<"$out" | grep -o '[0-9.]* s$')
  sweep=$(grep -o 'gc-sweep: .* in [0-9.]* s' <<<"$out" | tail -1 | grep -o '[0-9.]* s$')
  removed=$(grep -o 'removed: [0-9]* chunks' <<<"$out" | grep -o '[0-9]*')
  kept=$(grep -o 'kept: [0-9]* chunks' <<<"$out" | grep -o '[0-9]*')
  s3=$(grep -o 's3 requests: .*' <<<"$out" || true)
  printf '%-6s mark %8s  sweep %8s  removed %7s  kept %7s\n' "$1" "$mark" "$sweep" "$removed" "$kept"
  [ -n "$s3" ] && echo "       $s3"
  if [ -n "$s3" ]; then
    python3 - "$removed" "$s3" <<'PY'
import re, sys
removed = int(sys.argv[1]); s3 = sys.argv[2]
deletes = int(re.search(r"(\d+) DELETE", s3).group(1)); gets = int(re.search(r"(\d+) GET", s3).group(1))
print(f"       DeleteObjects requests per 1000 removed: {1000 * deletes / max(1, removed):.2f} (target <= 1); GETs: {gets} (target 0)")
PY
  fi
}

"$BACKUPFS" init "$work/local" >/dev/null
populate "$work/local" "$local_chunks"
echo "local store: $(find "$work/local/.chunks" -type f | wc -l) chunks before GC"
run_gc local "$work/local"

"$BACKUPFS" init "$work/s3" --s3-endpoint "$BACKUPFS_S3_ENDPOINT" --bucket "$BACKUPFS_S3_BUCKET" --region "$BACKUPFS_S3_REGION" \
  --path-style --store-name "gc$(date +%s)" >/dev/null
populate "$work/s3" "$s3_chunks"
echo "s3 store: $(find "$work/s3/.chunks" -type f | wc -l) chunks in the cache before GC"
run_gc s3 "$work/s3"
