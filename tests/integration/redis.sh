#!/bin/bash
# redis.sh - the redis source end to end against real redis-server
# processes on 127.0.0.1: run, list, verify, restore --to, DEBUG DIGEST of
# the restored data, manifest facts, test-restore (and its failures),
# diskless framing, passwords and ACL users, and failures that must leave
# no manifest: wrong password, dead port, no permission, a fake master
# sending a bit-flipped or truncated RDB.
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/redis.sh"
. "$ZB_SRCDIR/tests/lib/procwatch.sh"
# Scratch directories of test-restore (and our servers) go below $T.
mkdir -m 700 "$T/tmp"
export TMPDIR=$T/tmp

# no_manifest SOURCE: nothing of that source on any sink
no_manifest() {
	[ -z "$(find "$T/store" -path "*/$1/*" -type f 2>/dev/null)" ]
}

# manifest_of ID: the manifest.json of an artifact on the sink `store'
manifest_of() {
	local src=${1%%/*} rest=${1#*/}
	local stream=${rest%%@*} time=${1##*@}
	echo "$T/store/$src/$stream/$time/manifest.json"
}

# newest ID of a source
newest() {
	$Z list --json | python3 -c '
import json, sys
a = [o for o in json.load(sys.stdin) if o["source"] == sys.argv[1]]
print(max(a, key=lambda o: o["time"])["id"] if a else "")' "$1"
}

redis_start --diskless no -- --unixsocket "$T/r1.sock" --unixsocketperm 700 ||
    { fail "start redis (disk-based)"; finish; exit 1; }
P1=$REDIS_PORT
redis_seed "$P1" || fail "seed"
D1=$(redis_digest "$P1")
redis_start --diskless yes || { fail "start redis (diskless)"; finish; exit 1; }
P2=$REDIS_PORT
redis_seed "$P2" || fail "seed diskless"
D2=$(redis_digest "$P2")
PW="zb-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
redis_start --requirepass "$PW" || { fail "start redis (password)"; finish; exit 1; }
P3=$REDIS_PORT
SECRET_FILES="$REDIS_DIR/redis.conf $T/pw $T/badpw $T/zbpw $T/nosync.pass"
redis_cli "$P3" -a "$PW" SET secret-key value >/dev/null
redis_cli "$P3" -a "$PW" ACL SETUSER zb on ">zbuserpw" "~*" +ping +info \
    +replconf +sync >/dev/null
redis_cli "$P3" -a "$PW" ACL SETUSER nosync on ">nosyncpw" "~*" +ping \
    +info +replconf >/dev/null
DEAD=$(_redis_free_port)

(umask 077
 printf '%s\n' "$PW" >"$T/pw"
 printf 'not-the-password\n' >"$T/badpw"
 printf 'zbuserpw\n' >"$T/zbpw"
 printf 'nosyncpw\n' >"$T/nosync.pass")

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = zstd:3

[sink:store]
plugin = local
path = $T/store

[sink:alt]
plugin = local
path = $T/alt

[source:r]
plugin = redis
address = 127.0.0.1:$P1
timeout = 20s

[source:ru]
plugin = redis
address = $T/r1.sock

[source:rd]
plugin = redis
address = 127.0.0.1:$P2

[source:rpw]
plugin = redis
address = 127.0.0.1:$P3
password_file = $T/pw

[source:racl]
plugin = redis
address = 127.0.0.1:$P3
username = zb
password_file = $T/zbpw

[source:rbadpw]
plugin = redis
address = 127.0.0.1:$P3
password_file = $T/badpw

[source:rnoperm]
plugin = redis
address = 127.0.0.1:$P3
username = nosync
password_file = $T/nosync.pass

[source:rdead]
plugin = redis
address = 127.0.0.1:$DEAD
timeout = 5s
INI
for s in r ru rd rpw racl rbadpw rnoperm rdead; do
	printf '[job:%s]\nsource = %s\nsinks = store\n' "$s" "$s" >>"$T/zb.ini"
done
chmod 600 "$T/zb.ini"
Z="$CTL -c $T/zb.ini"

# Every process's argv and environment, sampled while it runs: no
# password, wrong password included, may show in any of them.
procwatch_start "$PW" zbuserpw nosyncpw not-the-password

check "check-config" $DAEMON -c "$T/zb.ini" --check-config
check "plugins lists redis" $Z plugins
grep -q '^redis ' "$T/out" || fail "redis in the plugin list"

# ---- a disk-based backup ------------------------------------------------------
check "run r" $Z run r
grep -q "job r: ok" "$T/out" || fail "run prints ok"
grep_err "the framing is logged" 'disk-based (\$len) framing, CRC-64 verified'
id=$(newest r)
[ -n "$id" ] && ok "list shows $id" || fail "no artifact of r in list"
case $id in r/dump@*) ok "stream is dump" ;; *) fail "stream name: $id" ;; esac
[ -f "$(dirname "$(manifest_of "$id")")/data.rdb.zst" ] && ok "extension rdb" ||
    fail "data.rdb.zst missing"
if python3 - "$(manifest_of "$id")" "$(redis_cli "$P1" INFO server | tr -d '\r' |
    sed -n 's/^redis_version://p')" \
    "$(redis_cli "$P1" -n 0 DBSIZE)" "$(redis_cli "$P1" -n 1 DBSIZE)" \
    "$(redis_cli "$P1" -n 5 DBSIZE)" <<'PY'; then
import json, sys
m = json.load(open(sys.argv[1]))
f = m["facts"]
assert f["redis_version"] == sys.argv[2], f
ks = f["keyspace"]
assert ks == {"db0": int(sys.argv[3]), "db1": int(sys.argv[4]),
              "db5": int(sys.argv[5])}, ks
assert f["expires"]["db0"] == 21 and f["expires"]["db1"] == 1, f["expires"]
assert f["expires"]["db5"] == 0, f["expires"]
assert m["source_plugin"]["name"] == "redis"
PY
	ok "manifest facts checked"
else
	fail "manifest facts"
fi

check "verify" $Z verify "$id"
check_fails 1 "restore without --to fails" $Z restore "$id"
grep_err "and says to give --to" "give --to PATH"
check "restore --to FILE" $Z restore "$id" --to "$T/r.rdb"
redis_start --rdb "$T/r.rdb" || fail "start a server on the restored RDB"
[ "$(redis_digest "$REDIS_PORT")" = "$D1" ] && ok "DEBUG DIGEST of the restore matches" ||
    fail "digest differs: $(redis_digest "$REDIS_PORT") != $D1"
[ "$(redis_cli "$REDIS_PORT" GET str:big | wc -c)" -gt 1000000 ] &&
    ok "the large string is back" || fail "str:big"
redis_stop "$REDIS_PID"

# ---- test-restore -------------------------------------------------------------
check "test-restore ID" $Z test-restore "$id"
grep -q "^ok " "$T/out" || fail "test-restore prints ok"
grep_err "the comparison is logged" "db0: [0-9]* keys restored, manifest says [0-9]*: ok"
check "test-restore JOB" $Z test-restore r
[ -z "$(ls -d "$TMPDIR"/zb-redis-test.* 2>/dev/null)" ] &&
    ok "scratch directories removed" || fail "left: $(ls -d "$TMPDIR"/zb-redis-test.*)"
pgrep -f "$TMPDIR/zb-redis-test" >/dev/null && fail "a scratch redis-server is still running" ||
    ok "no scratch redis-server left"

# A copy of the artifact on sink alt, with an altered manifest.
alt_copy() {	# python expression on f (the facts)
	local src dst
	src=$(dirname "$(manifest_of "$id")")
	dst=$T/alt/${src#"$T"/store/}
	rm -rf "$T/alt"
	mkdir -p "$(dirname "$dst")"
	cp -a "$src" "$dst"
	python3 - "$dst/manifest.json" "$1" <<'PY'
import json, sys
p = sys.argv[1]
m = json.load(open(p))
f = m["facts"]
exec(sys.argv[2])
json.dump(m, open(p, "w"), indent=2)
PY
}
n0=$(redis_cli "$P1" -n 0 DBSIZE)
alt_copy 'f["keyspace"]["db0"] += 1; f["expires"]["db0"] = 0'
check_fails 1 "test-restore fails when the manifest says one key more" \
    $Z test-restore "$id" --sink alt
grep_err "with the counts" "db0: $n0 keys restored, manifest says $((n0 + 1))"
alt_copy 'f["keyspace"]["db0"] -= 1'
check_fails 1 "test-restore fails with one key more than the manifest" \
    $Z test-restore "$id" --sink alt
alt_copy 'del f["keyspace"]["db5"]'
check_fails 1 "test-restore fails on a database the manifest lacks" \
    $Z test-restore "$id" --sink alt
grep_err "naming it" "db5: 3 keys restored, the manifest has no db5"
alt_copy 'f["keyspace"]["db0"] += 2'
check "test-restore accepts keys that may have expired" \
    $Z test-restore "$id" --sink alt
grep_err "with a warning" "may have expired since the backup"
alt_copy 'f["keyspace"]["db7"] = 4'
check_fails 1 "test-restore fails on a missing database" \
    $Z test-restore "$id" --sink alt
grep_err "db7" "db7: 0 keys restored, manifest says 4"

# ---- the same server through its unix socket ------------------------------------
check "run ru (unix socket)" $Z run ru
check "test-restore ru" $Z test-restore ru
check "restore ru --to FILE" $Z restore "$(newest ru)" --to "$T/ru.rdb"
redis_start --rdb "$T/ru.rdb" || fail "start on the unix-socket RDB"
[ "$(redis_digest "$REDIS_PORT")" = "$D1" ] && ok "unix socket digest matches" ||
    fail "unix socket digest differs"
redis_stop "$REDIS_PID"

# ---- diskless ------------------------------------------------------------------
check "run rd (diskless)" $Z run rd
grep_err "diskless framing" 'diskless (\$EOF) framing, CRC-64 verified'
idd=$(newest rd)
check "restore the diskless backup" $Z restore "$idd" --to "$T/rd.rdb"
redis_start --rdb "$T/rd.rdb" || fail "start on the diskless RDB"
[ "$(redis_digest "$REDIS_PORT")" = "$D2" ] && ok "diskless digest matches" ||
    fail "diskless digest differs"
redis_stop "$REDIS_PID"
check "test-restore rd" $Z test-restore rd

# ---- passwords, ACL users, errors ------------------------------------------------
check "run with password_file" $Z run rpw
check "test-restore rpw" $Z test-restore rpw
check "run as an ACL user" $Z run racl

check_fails 1 "a wrong password fails" $Z run rbadpw
grep_err "with a clear error" "authentication failed"
grep_err "naming the source" "rbadpw/dump@.*127.0.0.1:$P3"
grep -qF -- "not-the-password" "$T/err" && fail "the wrong password was logged" ||
    ok "the password is not logged"
no_manifest rbadpw && ok "no manifest after a wrong password" || fail "files of rbadpw"

check_fails 1 "a user without +sync fails" $Z run rnoperm
grep_err "NOPERM is reported" "NOPERM"
no_manifest rnoperm && ok "no manifest after NOPERM" || fail "files of rnoperm"

check_fails 1 "a dead port fails" $Z run rdead
grep_err "connection refused, naming the address" "127.0.0.1:$DEAD: cannot connect: Connection refused"
no_manifest rdead && ok "no manifest for a dead port" || fail "files of rdead"

# ---- a fake master with a spoiled RDB ----------------------------------------------
for mode in good bitflip truncated badmagic; do
	rm -f "$T/fake.port"
	python3 "$ZB_SRCDIR/tests/fakes/redis_master.py" --rdb "$T/r.rdb" \
	    --mode $mode --port-file "$T/fake.port" &
	fpid=$!
	for _ in $(seq 1 100); do [ -s "$T/fake.port" ] && break; sleep 0.05; done
	cat >>"$T/zb.ini" <<INI
[source:fake$mode]
plugin = redis
address = 127.0.0.1:$(cat "$T/fake.port")
timeout = 10s
[job:fake$mode]
source = fake$mode
sinks = store
INI
	if [ $mode = good ]; then
		check "the fake master works when the RDB is good" $Z run fakegood
	else
		check_fails 1 "a $mode RDB fails the run" $Z run fake$mode
		case $mode in
		bitflip) grep_err "checksum mismatch is named" "RDB checksum mismatch" ;;
		truncated) grep_err "truncation is named" "connection closed" ;;
		badmagic) grep_err "bad magic is named" "not an RDB" ;;
		esac
		grep_err "with the source's address" "127.0.0.1:$(cat "$T/fake.port")"
		no_manifest fake$mode && ok "no manifest for a $mode RDB" ||
		    fail "files of fake$mode"
	fi
	kill "$fpid"
	wait "$fpid" 2>/dev/null
done

# ---- secrets: argv and environments as they ran, every log and store ---------
procwatch_check "the passwords" zentoria-backup redis-server
no_secret_in "no password in any output, log or store" "$T"
finish
