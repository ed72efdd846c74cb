#!/usr/bin/env bash
# Starts a throwaway one-node Ceph cluster (memstore OSD) with the RADOS gateway (S3) on 127.0.0.1
# for the S3 tests and benchmarks, and writes its connection details to an env file.
#
#   scripts/start-s3.sh [STATE_DIR]      default STATE_DIR: <repo>/.tmp/s3
#
# Idempotent: when the gateway of STATE_DIR already answers, it only prints the env file.
# Env file STATE_DIR/s3.env, copied to <repo>/.tmp/s3.env for the default STATE_DIR; shell syntax:
#   BACKUPFS_S3_ENDPOINT  http://127.0.0.1:PORT (path-style addressing)
#   BACKUPFS_S3_REGION    us-east-1 (any string works with radosgw)
#   BACKUPFS_S3_BUCKET    a bucket that exists (tests create their own as well)
#   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY   the test user's keys
#   BACKUPFS_S3_DIR       the state dir (ceph.conf, run/*.pid, log/)
#   BACKUPFS_S3_RGW_PIDFILE  pid file of radosgw (fault tests SIGSTOP it)
# Overridable: S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET, S3_STORE=bluestore (persistent OSD).
# Stop with scripts/stop-s3.sh [STATE_DIR].
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:-$repo/.tmp/s3}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
# The tests read <repo>/.tmp/s3.env; a cluster in another dir only gets DIR/s3.env.
ENV_FILE=$DIR/s3.env
[ "$DIR" = "$repo/.tmp/s3" ] && ENV_FILE=$repo/.tmp/s3.env
AK=${S3_ACCESS_KEY:-backupfs-test-access}
SK=${S3_SECRET_KEY:-backupfs-test-secret-0123456789}
BUCKET=${S3_BUCKET:-backupfs-test}
STORE=${S3_STORE:-memstore}

pid_alive() { # a killed daemon stays a zombie until PID 1 reaps it: count that as dead
  local pid; pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  local state; state=$(sed -E 's/^[0-9]+ \(.*\) (.).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != "Z" ] && [ "$state" != "X" ]
}

# Already running and healthy? Then nothing to do.
if [ -f "$DIR/s3.env" ] && pid_alive "$DIR/run/client.rgw.a.pid" && pid_alive "$DIR/run/osd.0.pid" \
   && pid_alive "$DIR/run/mon.a.pid"; then
  # shellcheck disable=SC1091
  source "$DIR/s3.env"
  if curl -fs -m 3 -o /dev/null "$BACKUPFS_S3_ENDPOINT/"; then
    [ "$ENV_FILE" = "$DIR/s3.env" ] || cp "$DIR/s3.env" "$ENV_FILE"
    echo "S3 gateway already running at $BACKUPFS_S3_ENDPOINT (env: $ENV_FILE)"
    exit 0
  fi
fi

# Stale or absent: start from scratch (memstore keeps nothing across OSD restarts anyway).
"$repo/scripts/stop-s3.sh" "$DIR" >/dev/null 2>&1 || true
mkdir -p "$DIR"

# ceph-common brings python3; a minimal Debian may lack curl and uuidgen.
need=()
for cmd_pkg in radosgw:radosgw ceph-osd:ceph-osd ceph-mon:ceph-mon monmaptool:ceph-base uuidgen:uuid-runtime curl:curl python3:python3; do
  command -v "${cmd_pkg%%:*}" >/dev/null 2>&1 || need+=("${cmd_pkg#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (once per machine)..."
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MON_PORT=$(free_port)
S3_PORT=$(free_port)
while [ "$S3_PORT" = "$MON_PORT" ]; do S3_PORT=$(free_port); done
FSID=$(uuidgen)
mkdir -p "$DIR/run" "$DIR/log" "$DIR/mon" "$DIR/osd0"

fail() {
  echo "error: S3 gateway start failed: $*" >&2
  for f in "$DIR"/log/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
  "$repo/scripts/stop-s3.sh" "$DIR" --keep >/dev/null 2>&1 || true
  exit 1
}

if [ "$STORE" = bluestore ]; then
  osd_store="osd objectstore = bluestore
bluestore block path = $DIR/osd0.block
bluestore block create = true
bluestore block size = 21474836480
bluestore block db create = false
bluestore block wal create = false
bluestore fsck on mount = false
osd memory target = 1073741824
bluestore cache autotune = false
bluestore cache size = 268435456"
else
  osd_store="osd objectstore = memstore
memstore device bytes = 4294967296"
fi

cat > "$DIR/ceph.conf" <<CONF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
# default 1 s per monitor commit: radosgw creates ~7 pools, so start-up would take ~12 s
paxos propose interval = 0.01
paxos min wait = 0.01
run dir = $DIR/run
log file = $DIR/log/\$name.log
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
debug rgw = 0/0
$osd_store
[mon.a]
mon data = $DIR/mon
[osd.0]
osd data = $DIR/osd0
[client.rgw.a]
# tcp_nodelay: without it every small GET/LIST waits ~45 ms for Nagle
rgw frontends = beast endpoint=127.0.0.1:$S3_PORT tcp_nodelay=1
rgw thread pool size = 64
CONF

C=(-c "$DIR/ceph.conf")
# --addv with a v1 address: plain --add makes a v2 address and clients hang for 300 s
monmaptool --create --fsid "$FSID" --addv a "[v1:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null || fail "monmaptool"
ceph-mon "${C[@]}" --mkfs -i a --monmap "$DIR/monmap" >/dev/null 2>&1 || fail "ceph-mon --mkfs"
ceph-mon "${C[@]}" -i a </dev/null >>"$DIR/daemon-stdio.log" 2>&1 || fail "ceph-mon"
OSD_UUID=$(uuidgen)
timeout 30 ceph "${C[@]}" osd new "$OSD_UUID" >/dev/null || fail "ceph osd new"
ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$OSD_UUID" >/dev/null 2>&1 || fail "ceph-osd --mkfs"
# The OSD sometimes sends its first mon command before it has the monmap ("wrong fsid") and
# exits; a second start succeeds.
for attempt in 1 2 3 4 5; do
  ceph-osd "${C[@]}" -i 0 </dev/null >/dev/null 2>&1 && break
  [ $attempt -lt 5 ] || fail "ceph-osd"
  sleep 0.2
done
deadline=$((SECONDS + 60))
until timeout 10 ceph "${C[@]}" osd dump 2>/dev/null | grep -q '^osd.0 up'; do
  [ $SECONDS -lt $deadline ] || fail "osd.0 did not come up"
  sleep 0.1
done
radosgw "${C[@]}" -n client.rgw.a </dev/null >>"$DIR/daemon-stdio.log" 2>&1 || fail "radosgw"
ENDPOINT="http://127.0.0.1:$S3_PORT"
deadline=$((SECONDS + 60))
until curl -fs -m 2 -o /dev/null "$ENDPOINT/"; do   # anonymous ListBuckets answers 200
  [ $SECONDS -lt $deadline ] || fail "radosgw does not answer on $ENDPOINT"
  sleep 0.1
done
timeout 30 radosgw-admin "${C[@]}" user create --uid=test --display-name=test \
  --access-key="$AK" --secret-key="$SK" >/dev/null 2>&1 || fail "radosgw-admin user create"
# End-to-end check of the keys (SigV4); also creates the default bucket.
# curl's --aws-sigv4 needs the UNSIGNED-PAYLOAD header, or radosgw answers SignatureDoesNotMatch.
curl -fs -m 30 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" \
  -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT "$ENDPOINT/$BUCKET" -o /dev/null || fail "signed bucket create"

cat > "$DIR/s3.env" <<ENV
BACKUPFS_S3_ENDPOINT=$ENDPOINT
BACKUPFS_S3_REGION=us-east-1
BACKUPFS_S3_BUCKET=$BUCKET
AWS_ACCESS_KEY_ID=$AK
AWS_SECRET_ACCESS_KEY=$SK
BACKUPFS_S3_DIR=$DIR
BACKUPFS_S3_RGW_PIDFILE=$DIR/run/client.rgw.a.pid
ENV
[ "$ENV_FILE" = "$DIR/s3.env" ] || cp "$DIR/s3.env" "$ENV_FILE"
echo "S3 gateway running at $ENDPOINT (env: $ENV_FILE)"
