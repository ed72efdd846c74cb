#!/usr/bin/env bash
# Stops the gateway cluster started by scripts/start-s3.sh and removes its state.
#
#   scripts/stop-s3.sh [STATE_DIR] [--keep]     default STATE_DIR: <repo>/.tmp/s3
#
# Kills radosgw, osd.0 and mon.a by pid file (SIGKILL: the memstore data is throwaway anyway),
# waits until they are gone (zombies count as gone), then removes STATE_DIR and its env file
# unless --keep is given. CI calls this from a 'trap ... EXIT'.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
DIR=$repo/.tmp/s3
keep=0
for a in "$@"; do
  case "$a" in
    --keep) keep=1 ;;
    --purge) keep=0 ;;
    *) DIR=$a ;;
  esac
done
[ -d "$DIR" ] || exit 0
DIR=$(cd "$DIR" && pwd)

alive() { # a killed daemon stays a zombie until PID 1 reaps it
  [ -r "/proc/$1/stat" ] || return 1
  local state; state=$(sed -E 's/^[0-9]+ \(.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$state" != "Z" ] && [ "$state" != "X" ]
}

pids=()
for name in client.rgw.a osd.0 mon.a; do
  f="$DIR/run/$name.pid"
  [ -f "$f" ] || continue
  pid=$(cat "$f" 2>/dev/null)
  [ -n "$pid" ] || continue
  # only our daemon: its command line must name this state dir's ceph.conf
  if alive "$pid" && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$DIR/ceph.conf"; then
    kill -CONT "$pid" 2>/dev/null   # a SIGSTOPped gateway (fault tests) must die too
    kill -9 "$pid" 2>/dev/null && pids+=("$pid")
  fi
done
for _ in $(seq 1 100); do
  left=0
  for pid in "${pids[@]}"; do alive "$pid" && left=1; done
  [ $left -eq 0 ] && break
  sleep 0.05
done
if [ $keep -eq 0 ]; then
  rm -rf "$DIR"
  env_file=$repo/.tmp/s3.env
  [ -f "$env_file" ] && grep -qF "BACKUPFS_S3_DIR=$DIR" "$env_file" && rm -f "$env_file"
fi
exit 0
