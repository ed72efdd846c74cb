#!/usr/bin/env bash
# Benchmark of the S3 backend against the local Ceph gateway, all in one run:
#  - the gateway's raw PUT/GET throughput of 4 MiB objects (BackupFs's S3 client, 8 in flight);
#  - backup of the generated tree into the gateway (MB/s, S3 requests), and a second backup of
#    the unchanged tree (must make no chunk PUTs);
#  - reading the whole archive back cold (empty local cache) and warm, next to the same read
#    from a local datastore; the ratio warm (every chunk a hit in the local cache store) / local
#    store tells what a cache hit costs beyond a local chunk read (goal >= 0.9).
# usage: scripts/bench-s3.sh [TREE_MIB]   (default 1024)
#        BACKUPFS=/path/to/backupfs: measure that build instead of building this tree
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
ensure_dotnet
if [ -n "${BACKUPFS:-}" ]; then export BACKUPFS; else build_backupfs; fi
scripts/start-s3.sh >/dev/null
set -a; source .tmp/s3.env; set +a
mib=${1:-1024}
work=${BENCH_DIR:-/var/tmp/backupfs-bench}
mkdir -p "$work"
tree="$work/tree-$mib"
[ -d "$tree" ] || python3 scripts/lib/gen-tree.py "$tree" "$mib" >/dev/null
now() { date +%s.%N; }
rate() { python3 -c "import sys; print(f'{float(sys.argv[1])/(float(sys.argv[3])-float(sys.argv[2])):8.1f} MiB/s')" "$@"; }
seconds() { python3 -c "import sys; print(float(sys.argv[2])-float(sys.argv[1]))" "$@"; }

echo "== raw gateway throughput (4 MiB objects)"
scripts/bench-s3-raw.sh | sed 's/^ *//'

store="$work/s3cache"; local_store="$work/local"
rm -rf "$store" "$local_store"
name="bench$(date +%s)"
"$BACKUPFS" init "$store" --s3-endpoint "$BACKUPFS_S3_ENDPOINT" --bucket "$BACKUPFS_S3_BUCKET" --region "$BACKUPFS_S3_REGION" \
  --path-style --store-name "$name" >/dev/null
"$BACKUPFS" init "$local_store" >/dev/null
cat "$tree"/big/* >/dev/null; find "$tree" -type f -exec cat {} + >/dev/null

echo "== backup of $mib MiB into the gateway"
t0=$(now); snap=$("$BACKUPFS" backup "$store" "$tree" --type host --id bench 2>"$work/b1.err"); t1=$(now)
echo "first:  $(rate "$mib" "$t0" "$t1")  $(grep -h 'chunks' "$work/b1.err")"; grep -h 's3 requests' "$work/b1.err"
t0=$(now); "$BACKUPFS" backup "$store" "$tree" --type host --id bench >/dev/null 2>"$work/b2.err"; t1=$(now)
echo "second (unchanged): $(rate "$mib" "$t0" "$t1")  $(grep -h 'chunks' "$work/b2.err")"; grep -h 's3 requests' "$work/b2.err"
"$BACKUPFS" backup "$local_store" "$tree" --type host --id bench >/dev/null 2>&1
size=$(python3 -c "import os,sys; print(os.path.getsize(sys.argv[1]))" "$store/$snap/root.pxar.didx" 2>/dev/null || echo 0)

echo "== reading the archive back (root.pxar.didx, $mib MiB)"
find "$store/.chunks" -type f -delete                       # cold: nothing cached locally
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
t0=$(now); "$BACKUPFS" cat "$store" "$snap" root.pxar.didx 2>"$work/cold.err" >/dev/null; t1=$(now)
echo "cold (from S3): $(rate "$mib" "$t0" "$t1")  $(grep -h 's3 requests' "$work/cold.err")"
lsnap=$("$BACKUPFS" snapshots "$local_store" | awk '{print $1}' | tail -1)
"$BACKUPFS" cat "$store" "$snap" root.pxar.didx >/dev/null 2>&1; "$BACKUPFS" cat "$local_store" "$lsnap" root.pxar.didx >/dev/null
# warm and local in turn, twice each, so a drift of the machine's load hits both alike
warm_s=0; local_s=0
for _ in 1 2; do
  t0=$(now); "$BACKUPFS" cat "$store" "$snap" root.pxar.didx 2>"$work/warm.err" >/dev/null; t1=$(now)
  warm_s=$(python3 -c "import sys; print(float(sys.argv[1])+float(sys.argv[2]))" "$warm_s" "$(seconds "$t0" "$t1")")
  t0=$(now); "$BACKUPFS" cat "$local_store" "$lsnap" root.pxar.didx >/dev/null; t1=$(now)
  local_s=$(python3 -c "import sys; print(float(sys.argv[1])+float(sys.argv[2]))" "$local_s" "$(seconds "$t0" "$t1")")
done
echo "warm (cache):   $(rate "$((2 * mib))" 0 "$warm_s")  $(grep -h 's3 requests' "$work/warm.err")"
echo "local store:    $(rate "$((2 * mib))" 0 "$local_s")"
python3 -c "import sys; print(f'ratio warm cache hit / local store: {float(sys.argv[2])/float(sys.argv[1]):.2f}x (goal >= 0.9)')" "$warm_s" "$local_s"
