#!/bin/bash
# rclone_webdav.sh - the rclone sink against `rclone serve webdav' on
# 127.0.0.1: postgresql, redis and files round trips with age beside a
# local sink, restored from the WebDAV tier alone (a config naming only
# that sink, a fresh state directory); no credential in any rclone argv
# or environment; the server killed mid-upload (no manifest there, the
# local sink completes); a read-only server (the put fails with rclone's
# reason, no manifest).
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/rclone.sh"
command -v age >/dev/null || { echo "age(1) not installed: skipped"; exit 77; }
. "$ZB_SRCDIR/tests/lib/pg.sh"
. "$ZB_SRCDIR/tests/lib/redis.sh"
. "$ZB_SRCDIR/tests/lib/procwatch.sh"
pg_start || { fail "pg_start"; finish; exit 1; }
pg_seed_sample db1 || fail "seed db1"
# Our servers' directories go below $T (PostgreSQL's cannot: it runs as
# another user).
mkdir -m 700 "$T/tmp"
export TMPDIR=$T/tmp
redis_start || { fail "redis_start"; finish; exit 1; }
RP=$REDIS_PORT
redis_seed "$RP" || fail "seed redis"
RD=$(redis_digest "$RP")

rclone_serve webdav "$T/dav" || { fail "serve webdav"; finish; exit 1; }
DAV_PID=$RCS_PID
DAV=$RCS_REMOTE
DAV_OBSCURED=$(sed -n 's/^pass = //p' <<<"$DAV")
rclone_serve webdav "$T/ro" --read-only || { fail "serve webdav read-only"; finish; exit 1; }
RO=$RCS_REMOTE
(umask 077; printf '[dav]\n%s\n\n[ro]\n%s\n' "$DAV" "$RO" >"$T/rclone.conf")

$CTL keygen -o "$T/op.key" 2>/dev/null
sed -n 's/^# public key: //p' "$T/op.key" >"$T/recipients.txt"
mkdir -p "$T/tree/d"
head -c 200000 /dev/urandom >"$T/tree/d/blob.bin"
echo "text" >"$T/tree/t.txt"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = zstd:3
encryption = age
age_recipients_file = $T/recipients.txt

[sink:disk]
plugin = local
path = $T/store

[sink:dav]
plugin = rclone
remote = dav:zb/backups
rclone_config = $T/rclone.conf
timeout = 40s

[sink:ro]
plugin = rclone
remote = ro:zb
rclone_config = $T/rclone.conf
timeout = 20s

[source:pg]
plugin = postgresql
conninfo = host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres
password_file = $PG_PASSWORD_FILE
databases = db1
globals = no

[source:r]
plugin = redis
address = 127.0.0.1:$RP
timeout = 20s

[source:tree]
plugin = files
path = $T/tree

[source:slow]
plugin = command
command = head -c 2000000 /dev/urandom; sleep 6; head -c 2000000 /dev/urandom
extension = bin

[job:pg]
source = pg
sinks = disk, dav

[job:r]
source = r
sinks = disk, dav

[job:tree]
source = tree
sinks = disk, dav

[job:rotree]
source = tree
sinks = disk, ro

[job:slow]
source = slow
sinks = disk, dav
INI
chmod 600 "$T/zb.ini"
Z="$CTL -c $T/zb.ini"
SECRET_FILES="$T/rclone.conf"

# ---- round trips -----------------------------------------------------------
PROCWATCH_ENV_OK=pg_dump,pg_dumpall procwatch_start "$DAV_OBSCURED"
check "postgresql to disk and webdav" $Z run pg
check "redis to disk and webdav" $Z run r
check "files to disk and webdav" $Z run tree
procwatch_stop
procwatch_check "no rclone argv or environment holds the remote's password" rclone
n=$(find "$T/dav/zb/backups" -name manifest.json | wc -l)
[ "$n" = 3 ] && ok "three manifests on the webdav server" || fail "manifests: $n"
[ -z "$(find "$T/dav" -name '.*')" ] && ok "no temporary left there" || fail "temporaries left"
for f in $(cd "$T/store" && find . -type f -name 'data.*'); do
	cmp -s "$T/store/$f" "$T/dav/zb/backups/$f" || fail "$f differs on webdav"
done
ok "the stored bytes are the same on both sinks"

# ---- from the webdav tier alone -------------------------------------------
sed -e "s|^state_dir = .*|state_dir = $T/state2|" -e 's|^sinks = .*|sinks = dav|' \
    -e '/^\[sink:disk\]/,/^$/d' -e '/^\[sink:ro\]/,/^$/d' -e '/^\[job:rotree\]/,/^$/d' \
    "$T/zb.ini" >"$T/alone.ini"
chmod 600 "$T/alone.ini"
ZA="$CTL -c $T/alone.ini"
check "list from the webdav tier alone" $ZA list --json
ids() { python3 -c 'import json,sys; print(" ".join(o["id"] for o in json.load(open(sys.argv[1])) if o["source"] == sys.argv[2] and o["sink"] == "dav"))' "$T/out" "$1"; }
PGID=$(ids pg); RID=$(ids r); TID=$(ids tree)
[ -n "$PGID" ] && [ -n "$RID" ] && [ -n "$TID" ] && ok "it lists the three copies" ||
    fail "list: $(cat "$T/out")"
for id in $PGID $RID $TID; do
	check "verify --deep $id" $ZA verify --deep --identity "$T/op.key" "$id"
done

check "restore the database from webdav" $ZA restore "$PGID" --identity "$T/op.key" --to db1_copy
dump_sorted() {
	"$PG_BIN/pg_dump" -w -h 127.0.0.1 -p "$PGPORT" -U postgres -a \
	    --no-owner -d "$1" | grep -v '^\\\(un\)\?restrict ' | sort
}
dump_sorted db1 >"$T/a.data"; dump_sorted db1_copy >"$T/b.data"
[ -s "$T/a.data" ] && cmp -s "$T/a.data" "$T/b.data" && ok "db1_copy has db1's data" ||
    fail "database data differs"
check "restore the redis RDB from webdav" $ZA restore "$RID" --identity "$T/op.key" --to "$T/r.rdb"
redis_start --rdb "$T/r.rdb" || fail "start redis on the restored RDB"
[ "$(redis_digest "$REDIS_PORT")" = "$RD" ] && ok "DEBUG DIGEST matches" || fail "redis digest"
check "restore the tree from webdav" $ZA restore "$TID" --identity "$T/op.key" --to "$T/out-tree"
diff -r "$T/tree" "$T/out-tree/tree" >/dev/null && ok "tree identical" || fail "tree differs"

# ---- a read-only remote ------------------------------------------------------
check_fails 1 "a remote refusing writes fails its copy" $Z run rotree
# (a read-only `rclone serve webdav' refuses MKCOL with 409, PUT with 403)
grep_err "with rclone's reason" "\[sink:ro\] .*sink:ro: rclone \(rcat: Failed to rcat\|uploadfile\).*\(409\|403\)"
grep -q "partial" "$T/out" "$T/err" && ok "the run is partial" || fail "not partial: $(cat "$T/out")"
[ -z "$(find "$T/ro" -type f)" ] && ok "nothing on the read-only server" || fail "files on ro"

# ---- the server killed mid-upload -------------------------------------------
# (at 1 MB/s the 4 MB upload lasts long enough to be seen and cut short)
sed -i 's|^timeout = 40s|timeout = 40s\nbwlimit = 1M|' "$T/zb.ini"
$Z run slow >"$T/slow.out" 2>"$T/slow.err" &
BG=$!
for i in $(seq 1 200); do
	[ -n "$(find "$T/dav/zb/backups/slow" -name '.data.*' 2>/dev/null)" ] && break
	sleep 0.1
done
[ -n "$(find "$T/dav/zb/backups/slow" -name '.data.*' 2>/dev/null)" ] &&
    ok "the upload is under way (a temporary on the server)" || fail "no upload seen"
rclone_stop "$DAV_PID"
wait "$BG"
check_rc "the run with the server killed" $? 1 "$T/slow.err"
grep -q "1 copies made, 1 failed" "$T/slow.err" && ok "one copy made, one failed" ||
    fail "summary: $(tail -3 "$T/slow.err")"
[ -n "$(find "$T/store/slow" -name manifest.json)" ] && ok "the local sink completed" ||
    fail "no manifest on disk"
[ -z "$(find "$T/dav/zb/backups/slow" -name manifest.json 2>/dev/null)" ] &&
    ok "no manifest on the killed server" || fail "a manifest on webdav"
grep -q "sink:dav" "$T/slow.err" && ok "the failure names the sink" || fail "no sink named"

finish
