#!/usr/bin/env bash
# The main job: set up (fuse3, .NET build), create a demo datastore with a few snapshots of a
# sample tree on first run, and mount it. Prints the mount point and how to unmount.
# usage: scripts/demo.sh [DEMO_DIR]   (default ./demo)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
ensure_dotnet
ensure_apt_packages fuse3
build_backupfs
demo=$(realpath -m "${1:-demo}")
store="$demo/store"; mnt="$demo/mnt"; src="$demo/sample"
mkdir -p "$demo" "$mnt"

if [ ! -d "$store/.chunks" ]; then
  echo "creating demo datastore in $store"
  "$BACKUPFS" init "$store" >/dev/null
  python3 scripts/lib/gen-tree.py "$src" 24 1 >/dev/null
  mkdir -p "$src/docs" && printf 'Hello from BackupFs\n' > "$src/docs/README.txt"
  ln -sf docs/README.txt "$src/readme-link"
  "$BACKUPFS" backup "$store" "$src" --type host --id demo --time 2025-07-14T14:20:02Z
  printf 'second version\n' >> "$src/docs/README.txt"
  python3 scripts/lib/mutate-tree.py "$src" 2 >/dev/null
  "$BACKUPFS" backup "$store" "$src" --type host --id demo --time 2025-07-15T14:20:02Z
  head -c 20000000 /dev/urandom > "$demo/disk.img"
  "$BACKUPFS" backup "$store" "$demo/disk.img" --image --type vm --id 100 --ns lab
fi

if mountpoint -q "$mnt" 2>/dev/null || ! ls "$mnt" >/dev/null 2>&1; then
  "$BACKUPFS" umount "$mnt" --force >/dev/null 2>&1 || fusermount3 -u -z "$mnt" 2>/dev/null || true
fi
"$BACKUPFS" mount "$store" "$mnt"
echo
echo "BackupFs: datastore $store is mounted at $mnt"
echo "  browse:   ls -l $mnt/host/demo/latest/"
echo "  restore:  cp -a $mnt/host/demo/latest/root.pxar/docs /tmp/restored-docs"
echo "  unmount:  $BACKUPFS umount $mnt   (or: fusermount3 -u $mnt)"
