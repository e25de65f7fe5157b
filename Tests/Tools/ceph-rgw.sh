#!/bin/bash
# A single-node Ceph cluster with the RADOS Gateway, for tests: one mon, one OSD on memstore, msgr v2 only.
#   ceph-rgw.sh start DIR [BUCKET…]   starts it under DIR, makes the buckets, and prints
#                                     "endpoint=http://127.0.0.1:PORT access=… secret=…"
#   ceph-rgw.sh stop DIR    stops it by the PIDs recorded in DIR
#   ceph-rgw.sh stop-gateway DIR / start-gateway DIR   stops or restarts the gateway alone (a fault to survive)
# The S3 keys are $RGW_ACCESS_KEY and $RGW_SECRET_KEY when set, else made up.
# Needs Debian's ceph-mon, ceph-osd, radosgw and ceph-common. No authentication inside the cluster (it listens
# on loopback only); the gateway checks S3 signatures with the keys of the user this script creates.
set -euo pipefail
command=$1
dir=$(realpath -m "$2")
shift 2

stop() {
  for pidfile in "$dir"/run/*.pid; do
    [ -f "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  sleep 0.5
  for pidfile in "$dir"/run/*.pid; do
    [ -f "$pidfile" ] || continue
    kill -9 "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ "$command" = stop ]; then stop; exit 0; fi
export CEPH_CONF="$dir/ceph.conf"
wait_gateway() {
  port=$(sed -n 's/.*endpoint=127.0.0.1:\([0-9]*\).*/\1/p' "$CEPH_CONF")
  for _ in $(seq 1 600); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/" && return 0
    sleep 0.1
  done
  return 1
}
if [ "$command" = stop-gateway ]; then
  kill -9 "$(cat "$dir/run/client.rgw.a.pid")"
  rm -f "$dir/run/client.rgw.a.pid"
  exit 0
fi
if [ "$command" = start-gateway ]; then
  radosgw -n client.rgw.a < /dev/null >> "$dir/log/rgw.out" 2>&1
  wait_gateway
  exit $?
fi

mkdir -p "$dir"/{run,log,mon,osd,rgw}
fsid=$(cat /proc/sys/kernel/random/uuid)
mon_port=$(free_port)
rgw_port=$(free_port)
conf="$dir/ceph.conf"
cat > "$conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = false
ms bind msgr1 = false
ms bind msgr2 = true
ms mon client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
ms client mode = crc
ms cluster mode = crc
ms service mode = crc
paxos propose interval = 0.05
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 8589934592
mon allow pool delete = true
# A PG's read lease is this grace times osd_pool_default_read_lease_ratio (0.8). On a small machine loaded by the
# tests (2 cores, debug builds, ffmpeg) the OSD can be starved past the default 20 s; its placement groups then
# stay "waiting for readable" and every request hangs. A long grace keeps them readable (one OSD has no peer
# whose failure it must notice quickly).
osd heartbeat grace = 600
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
run dir = $dir/run
log file = $dir/log/\$name.log
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
mon data = $dir/mon/\$name
osd data = $dir/osd/\$name
keyring = $dir/keyring
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $dir/rgw
rgw dns name = 127.0.0.1
rgw enable usage log = false
CONF
export CEPH_CONF="$conf"
monmaptool --create --add a "v2:127.0.0.1:$mon_port" --fsid "$fsid" "$dir/monmap" > /dev/null
ceph-mon --mkfs -i a --monmap "$dir/monmap" > /dev/null
# Daemons get no inherited stdio: whoever started this script waits for its output to end.
ceph-mon -i a < /dev/null > "$dir/log/mon.out" 2>&1
osd_uuid=$(cat /proc/sys/kernel/random/uuid)
osd_id=$(timeout 60 ceph osd new "$osd_uuid")
mkdir -p "$dir/osd/osd.$osd_id"
ceph-osd -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" > /dev/null 2>&1
ceph-osd -i "$osd_id" < /dev/null > "$dir/log/osd.out" 2>&1
radosgw -n client.rgw.a < /dev/null > "$dir/log/rgw.out" 2>&1
access=${RGW_ACCESS_KEY:-EXHIBITTEST$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)}
secret=${RGW_SECRET_KEY:-$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | cut -c1-40)}
for _ in $(seq 1 600); do
  if radosgw-admin user create --uid=exhibit --display-name=Exhibit --access-key="$access" --secret="$secret" > /dev/null 2>&1; then
    break
  fi
  sleep 0.1
done
wait_gateway
for bucket in "$@"; do
  # curl signs the request; RGW wants the (empty) payload hash in a header too.
  curl -sf -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user "$access:$secret" \
    -H "x-amz-content-sha256: $(printf "" | sha256sum | cut -d" " -f1)" "http://127.0.0.1:$rgw_port/$bucket" > /dev/null
done
echo "endpoint=http://127.0.0.1:$rgw_port access=$access secret=$secret"
