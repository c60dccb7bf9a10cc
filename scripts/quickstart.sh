#!/bin/bash
# quickstart.sh - from a fresh Debian 12 to a verified, restored backup.
#
# Installs the build dependencies, builds zentoria-backupd, installs it
# into a throwaway prefix, starts throwaway servers on 127.0.0.1 (a
# PostgreSQL 15 and a Redis 7 with sample data, and s3rver as a MinIO
# stand-in), then backs up a sample directory (files source), a command's
# output (command source), the PostgreSQL databases and globals
# (postgresql source) and the Redis dataset (redis source), each fanned
# out to a local tier and the S3 tier at once; lists, verifies,
# test-restores the databases, restores everything from the S3 tier and
# compares it with the originals.  Everything lives under
# $ZB_QUICKSTART_DIR (default /tmp/zentoria-quickstart) and the servers
# are stopped at the end; nothing is installed system-wide except the
# Debian packages, s3rver in /var/cache/zentoria-test-npm, and a system
# user for the PostgreSQL server when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
qs=${ZB_QUICKSTART_DIR:-/tmp/zentoria-quickstart}
jobs=$(nproc 2>/dev/null || echo 2)

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "installing build dependencies (Debian packages)"
scripts/install-deps.sh

step "building zentoria-backupd"
rm -rf "$qs"
mkdir -p "$qs/build"
autoreconf -fi >/dev/null 2>&1
(cd "$qs/build" && "$top/configure" -q --prefix="$qs/prefix" &&
    make -s -j"$jobs" && make -s install) >"$qs/build.log" 2>&1 ||
    { tail -40 "$qs/build.log"; exit 1; }
ctl="$qs/prefix/bin/zentoria-backupctl"
echo "installed into $qs/prefix"

step "making sample data"
sample="$qs/sample"
mkdir -p "$sample/docs/empty dir" "$sample/app"
echo "hello from zentoria" >"$sample/docs/readme.txt"
printf 'name with spaces\n' >"$sample/docs/a file with spaces.txt"
printf 'grüße\n' >"$sample/docs/ünïcødé.txt"
head -c 2000000 /dev/urandom >"$sample/app/blob.bin"
chmod 0640 "$sample/app/blob.bin"
ln -s ../docs/readme.txt "$sample/app/link-to-readme"
find "$sample" | sed "s|^$qs/||"

# Whatever happens, the servers go: pg.sh and redis.sh chain their EXIT
# traps in front of this one.
stop_s3rver() { ! declare -f s3rver_stop >/dev/null || s3rver_stop; }
trap stop_s3rver EXIT

step "starting a throwaway PostgreSQL 15 on 127.0.0.1 with sample data"
export ZB_SRCDIR=$top
. tests/lib/pg.sh
pg_start
pg_seed_sample shop
pg_psql -d shop -Atc "SELECT 'shop: ' || count(*) || ' accounts' FROM pgbench_accounts"
echo "PostgreSQL on 127.0.0.1 port $PGPORT, data in $PG_DATA"

step "starting a throwaway Redis 7 on 127.0.0.1 with sample data"
. tests/lib/redis.sh
redis_start
redis_seed "$REDIS_PORT" >/dev/null
redis_cli "$REDIS_PORT" info keyspace | grep '^db'
echo "Redis on 127.0.0.1 port $REDIS_PORT"

step "starting s3rver on 127.0.0.1 as the S3 tier (a MinIO stand-in)"
T=$qs/s3
mkdir -p "$T"
. tests/lib/s3rver.sh
s3rver_start backups
echo "S3 endpoint $S3R_URL, bucket backups"

cat >"$qs/zentoria-backupd.ini" <<INI
[daemon]
plugin_dir = $qs/prefix/lib/zentoria-backupd/plugins
state_dir = $qs/state
compression = zstd:3
max_buffer_mb = 64

[sink:local]
plugin = local
path = $qs/backups

[sink:minio]
plugin = s3
endpoint = $S3R_URL
bucket = backups
prefix = zentoria
access_key_file = $T/s3r.ak
secret_key_file = $T/s3r.sk

[source:sample]
plugin = files
path = $sample
exclude = *.tmp

[source:report]
plugin = command
command = ps -eo pid,comm --sort=pid; df -h /; uname -a
extension = txt

[source:pg]
plugin = postgresql
conninfo = host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres
password_file = $PG_PASSWORD_FILE

[source:redis]
plugin = redis
address = 127.0.0.1:$REDIS_PORT

[job:sample]
source = sample
sinks = local, minio

[job:pg]
source = pg
sinks = local, minio

[job:redis]
source = redis
sinks = local, minio

[job:report]
source = report
sinks = local, minio
INI
chmod 600 "$qs/zentoria-backupd.ini"
z() {
	echo "\$ zentoria-backupctl $*"
	env -u PGHOST -u PGUSER -u PGPORT -u PGPASSFILE \
	    "$ctl" -c "$qs/zentoria-backupd.ini" "$@"
}

step "checking the configuration"
"$qs/prefix/sbin/zentoria-backupd" -c "$qs/zentoria-backupd.ini" --check-config

step "backing up a directory, a command's output, PostgreSQL and Redis to both tiers"
z run sample report pg redis

step "listing what the tiers hold"
z list

step "verifying every copy (re-read, SHA-256 against the manifest)"
z verify --latest

step "test-restoring PostgreSQL and Redis (scratch database / throwaway server)"
z test-restore pg
z test-restore redis

ids=$("$ctl" -c "$qs/zentoria-backupd.ini" list --json 2>/dev/null |
    python3 -c 'import json,sys; [print(o["id"]) for o in json.load(sys.stdin)]' | sort -u)
files_id=$(echo "$ids" | grep '^sample/')
report_id=$(echo "$ids" | grep '^report/')
shop_id=$(echo "$ids" | grep '^pg/shop@')

redis_id=$(echo "$ids" | grep '^redis/dump@')

step "restoring all four from the S3 tier"
z restore "$files_id" --sink minio --to "$qs/restored-sample"
z restore "$report_id" --sink minio --to "$qs/restored-report.txt"
z restore "$shop_id" --sink minio --to shop_restored
z restore "$redis_id" --sink minio --to "$qs/restored-dump.rdb"

step "comparing with the originals"
diff -r --no-dereference "$sample" "$qs/restored-sample/$(basename "$sample")"
echo "sample directory: identical (contents, symlink, empty dir)"
stat -c '%a %n' "$qs/restored-sample/sample/app/blob.bin"
head -3 "$qs/restored-report.txt"
echo "..."
dir=$(ls -d "$qs"/backups/sample/files/*/)
(cd "$dir" && sha256sum -c data.tar.zst.sha256)
dump_data() {
	"$PG_BIN/pg_dump" -w -h 127.0.0.1 -p "$PGPORT" -U postgres -a -d "$1" |
	    grep -v '^\\\(un\)\?restrict ' | sort | sha256sum | cut -c1-16
}
a=$(dump_data shop); b=$(dump_data shop_restored)
echo "database shop: data $a, restored shop_restored: data $b"
[ "$a" = "$b" ]
echo "database: identical data"
redis-check-rdb "$qs/restored-dump.rdb" | grep -F "RDB looks OK"
pg_stop >/dev/null
redis_stop "$REDIS_PID"
s3rver_stop
echo "PostgreSQL, Redis and s3rver stopped"

step "done"
cat <<DONE
Backups:    $qs/backups   (layout: SOURCE/STREAM/TIME/{data.*,data.*.sha256,manifest.json})
S3 tier:    $qs/s3/s3rver/backups/zentoria (s3rver's files; the same layout)
Config:     $qs/zentoria-backupd.ini
Try:        $ctl -c $qs/zentoria-backupd.ini --help
DONE
