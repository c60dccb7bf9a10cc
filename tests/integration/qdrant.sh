#!/bin/bash
# qdrant.sh - the qdrant source end to end against tests/fakes/qdrant_fake.py
# (api-key enforced): two collections and the full-storage snapshot backed
# up (facts, the server's checksum, snapshots deleted on the server), a
# dropped collection restored with the same points, --to PATH, --to another
# collection, an existing non-empty collection refused without --force,
# the full snapshot to a file only, test-restore (and its failure on a
# wrong count), collections = all; failures that leave no manifest and
# no snapshot on the server: 401 (naming the source and the status), a
# wrong checksum, a body always cut short, a server answering 503 to
# everything (gives up within the retry deadline), a server dying
# mid-download; a body cut short once is resumed.
. "$(dirname "$0")/lib.sh"
QD_PID=
trap 'qd_stop; rm -rf "$T"' EXIT

KEY="zb-qd-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
(umask 077; printf '%s\n' "$KEY" >"$T/qd.key"; printf 'wrong\n' >"$T/bad.key")

qd_start() {
	local i
	rm -f "$T/qd.port"
	python3 "$ZB_SRCDIR/tests/fakes/qdrant_fake.py" --port "${QD_PORT:-0}" \
	    --port-file "$T/qd.port" --api-key "$KEY" --data-dir "$T/qd" \
	    --collection alpha=1500:8 --collection beta=300 \
	    --collection gamma=20 --pad 3000000 >>"$T/qdfake.log" 2>&1 &
	QD_PID=$!
	for i in $(seq 1 100); do
		[ -s "$T/qd.port" ] && break
		kill -0 "$QD_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ -s "$T/qd.port" ] || { echo "qdrant fake did not start:" >&2;
	    tail -5 "$T/qdfake.log" >&2; return 1; }
	QD_PORT=$(cat "$T/qd.port")
	QD_URL=http://127.0.0.1:$QD_PORT
}
qd_stop() {
	local i
	[ -n "$QD_PID" ] || return 0
	kill -TERM "$QD_PID" 2>/dev/null
	for i in $(seq 1 50); do
		kill -0 "$QD_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$QD_PID" 2>/dev/null
	wait "$QD_PID" 2>/dev/null
	QD_PID=
}
qd_api() {	# METHOD PATH [curl args]: the fake's API with the key
	local m=$1 p=$2
	shift 2
	curl -sf -X "$m" -H "api-key: $KEY" "$QD_URL$p" "$@"
}
qd_fault() { curl -sf -X POST "$QD_URL/__fault" -d "{\"mode\":\"$1\",\"count\":${2:--1}}" >/dev/null; }
state() {	# python expression over the fake's /__state as d
	curl -sf "$QD_URL/__state" | python3 -c "import json,sys
d = json.load(sys.stdin)
print($1)"
}
snapshots_left() { state 'sum(len(v) for v in d["snapshots"].values())'; }

qd_start || { fail "start the qdrant fake"; finish; exit 1; }

ini() {
	cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

[sink:store]
plugin = local
path = $T/store

[sink:alt]
plugin = local
path = $T/alt

[sink:broken]
plugin = sink_slow
fail_at = 100000

[source:qd]
plugin = qdrant
url = $QD_URL/
api_key_file = $T/qd.key
collections = alpha, beta
full_snapshot = yes
retry_deadline = 3s
timeout = 10s

[source:qall]
plugin = qdrant
url = $QD_URL
api_key = env:ZB_QD_KEY
retry_deadline = 3s

[source:qbad]
plugin = qdrant
url = $QD_URL
api_key_file = $T/bad.key
collections = gamma
retry_deadline = 3s

[source:qsum]
plugin = qdrant
url = $QD_URL
api_key_file = $T/qd.key
collections = gamma
retry_deadline = 3s

[source:qcut]
plugin = qdrant
url = $QD_URL
api_key_file = $T/qd.key
collections = alpha
retry_deadline = 3s
timeout = 5s

[source:qdown]
plugin = qdrant
url = $QD_URL
api_key_file = $T/qd.key
collections = gamma
retry_deadline = 5s
timeout = 5s

[job:qd]
source = qd
sinks = store
[job:qall]
source = qall
sinks = store
[job:qbad]
source = qbad
sinks = store
[job:qsum]
source = qsum
sinks = store
[job:qcut]
source = qcut
sinks = store
[job:qdown]
source = qdown
sinks = store
[job:qabort]
source = qcut
sinks = broken
INI
	chmod 600 "$T/zb.ini"
}
ini
export ZB_QD_KEY=$KEY
Z="$CTL -c $T/zb.ini"

no_manifest() { [ -z "$(find "$T/store/$1" -name manifest.json 2>/dev/null)" ]; }
manifest_of() {
	local src=${1%%/*} rest=${1#*/}
	echo "$T/store/$src/${rest%%@*}/${1##*@}/manifest.json"
}
newest() {	# newest ID of SOURCE/STREAM
	$Z list --json | python3 -c '
import json, sys
a = [o for o in json.load(sys.stdin) if o["id"].startswith(sys.argv[1] + "@")]
print(max(a, key=lambda o: o["time"])["id"] if a else "")' "$1"
}
fact() {	# MANIFEST KEY
	python3 -c 'import json,sys
print(json.load(open(sys.argv[1]))["facts"].get(sys.argv[2], ""))' "$@"
}

# ---- configuration ----------------------------------------------------------
check "plugins lists qdrant" $Z plugins
grep -q '^qdrant ' "$T/out" && ok "qdrant listed" || fail "qdrant not listed: $(cat "$T/out")"
cp "$T/zb.ini" "$T/bad.ini"
printf '[source:qx]\nplugin = qdrant\ncollections = all, alpha\n' >>"$T/bad.ini"
check_fails 1 "collections = all plus a name is refused" "$CTL" -c "$T/bad.ini" list
grep_err "naming the key" 'collections: all cannot be combined with names'
cp "$T/zb.ini" "$T/bad.ini"
printf '[source:qx]\nplugin = qdrant\nurl = ftp://x\n' >>"$T/bad.ini"
check_fails 1 "a URL that is not http(s) is refused" "$CTL" -c "$T/bad.ini" list
grep_err "naming the url" "url: 'ftp://x': expected http"

# ---- backup: two collections and the full snapshot --------------------------
A_DIGEST=$(state 'd["collections"]["alpha"]["digest"]')
B_DIGEST=$(state 'd["collections"]["beta"]["digest"]')
curl -sf -X POST "$QD_URL/__log/clear" >/dev/null
check "run qd (alpha, beta, full)" $Z run qd
for s in alpha beta full; do
	id=$(newest "qd/$s")
	[ -n "$id" ] && ok "stream $s stored" || fail "no artifact for qd/$s"
done
IDA=$(newest qd/alpha); IDB=$(newest qd/beta); IDF=$(newest qd/full)
MA=$(manifest_of "$IDA")
[ "$(fact "$MA" points)" = 1500 ] && ok "fact points = 1500" || fail "points: $(fact "$MA" points)"
[ "$(fact "$(manifest_of "$IDB")" points)" = 300 ] && ok "beta: points = 300" || fail "beta points"
fact "$MA" vectors | grep -q '"size": *8' && ok "fact vectors holds the config" ||
    fail "vectors: $(fact "$MA" vectors)"
[ "$(fact "$MA" qdrant_version)" = 1.13.2 ] && ok "fact qdrant_version" ||
    fail "version: $(fact "$MA" qdrant_version)"
DA=$(dirname "$MA")/data.snapshot
[ "$(sha256sum <"$DA" | cut -c1-64)" = "$(fact "$MA" checksum)" ] &&
    ok "stored bytes hash to the server's checksum" || fail "checksum fact vs stored bytes"
[ "$(fact "$(manifest_of "$IDF")" collections)" = 3 ] && ok "full: fact collections = 3" ||
    fail "full collections fact"
tar tf "$(dirname "$(manifest_of "$IDF")")/data.snapshot" | grep -q '^alpha.snapshot$' &&
    ok "the full snapshot holds the collections" || fail "full snapshot content"
[ "$(snapshots_left)" = 0 ] && ok "every snapshot deleted on the server" ||
    fail "snapshots left: $(state 'd["snapshots"]')"
curl -sf "$QD_URL/__log" | python3 -c 'import json,sys
bad = [e for e in json.load(sys.stdin)["log"] if e["path"] != "/" and not e["auth"]]
sys.exit(1 if bad else 0)' && ok "every API request carried the api-key" ||
    fail "a request without api-key"
curl -sf "$QD_URL/__log" | python3 -c 'import json,sys
ops = [(e["method"], e["path"].split("?")[0].rsplit("/", 1)[0], e["status"]) for e in json.load(sys.stdin)["log"]]
assert ("DELETE", "/collections/alpha/snapshots", 200) in ops, ops
assert ("DELETE", "/snapshots", 200) in ops, ops' && ok "DELETE sent for each snapshot" ||
    fail "deletes: $(curl -sf "$QD_URL/__log")"
check "verify" $Z verify "$IDA"

# ---- restore ------------------------------------------------------------------
qd_api DELETE /collections/alpha >/dev/null || fail "drop alpha"
[ "$(state '"alpha" in d["collections"]')" = False ] && ok "alpha dropped" || fail "alpha still there"
check "restore alpha (into its own name)" $Z restore "$IDA"
[ "$(state 'd["collections"]["alpha"]["digest"]')" = "$A_DIGEST" ] &&
    ok "alpha is back with the same points" || fail "alpha differs after restore"
[ "$(state 'd["collections"]["alpha"]["points"]')" = 1500 ] && ok "1500 points" || fail "points after restore"
curl -sf "$QD_URL/__log" | grep -q 'snapshots/upload?wait=true&priority=snapshot&checksum=[0-9a-f]\{64\}' &&
    ok "upload with priority=snapshot and the checksum" || fail "upload URL: $(curl -sf "$QD_URL/__log" | tail -c 400)"

check_fails 1 "restore into non-empty beta needs --force" $Z restore "$IDB"
grep_err "says so" "beta .*holds 300 points; refusing to replace it (use --force)"
qd_api PUT /collections/beta/points -H 'Content-Type: application/json' \
    -d '{"points":[{"id":99999,"vector":[1,2,3,4],"payload":{}}]}' >/dev/null || fail "add a point"
check "restore beta --force" $Z restore "$IDB" --force
[ "$(state 'd["collections"]["beta"]["digest"]')" = "$B_DIGEST" ] &&
    ok "beta replaced by the backup" || fail "beta differs after --force restore"

check "restore alpha --to another collection" $Z restore "$IDA" --to alpha_copy
[ "$(state 'd["collections"]["alpha_copy"]["digest"]')" = "$A_DIGEST" ] &&
    ok "alpha_copy has alpha's points" || fail "alpha_copy differs"
qd_api PUT /collections/empty -d '{"vectors":{"size":8,"distance":"Dot"}}' >/dev/null
check "restore into an existing empty collection (no --force)" $Z restore "$IDA" --to empty
[ "$(state 'd["collections"]["empty"]["points"]')" = 1500 ] && ok "empty filled" || fail "empty not filled"

qd_fault unauthorized -1
check_fails 1 "a restore the server refuses (401) fails" $Z restore "$IDA" --to refused
grep_err "naming the source and the status" "source:qd.* collection refused .*HTTP 401"
qd_fault clear
[ "$(state '"refused" in d["collections"]')" = False ] && ok "nothing restored on a 401" ||
    fail "refused collection exists"

check "restore --to PATH" $Z restore "$IDA" --to "$T/alpha.snapshot"
cmp -s "$T/alpha.snapshot" "$DA" && ok "the file is the snapshot" || fail "file differs"
check_fails 1 "full snapshot without --to is refused" $Z restore "$IDF"
grep_err "says where it goes" "restores to a file only"
check_fails 1 "full snapshot into a collection is refused" $Z restore "$IDF" --to somecoll
check "full snapshot --to PATH" $Z restore "$IDF" --to "$T/full.snapshot"
grep_err "prints the startup command" "qdrant --storage-snapshot $T/full.snapshot"
[ -s "$T/full.snapshot" ] && ok "full snapshot written" || fail "no full.snapshot"

# ---- test-restore ---------------------------------------------------------------
check "test-restore alpha" $Z test-restore "$IDA"
grep_err "the count is compared" "1500 points restored, manifest says 1500: ok"
[ "$(state 'len([c for c in d["collections"] if c.startswith("zb_test_restore")])')" = 0 ] &&
    ok "scratch collection dropped" || fail "scratch left: $(state 'list(d["collections"])')"
src=$(dirname "$MA"); dst=$T/alt/${src#"$T"/store/}
mkdir -p "$(dirname "$dst")" && cp -a "$src" "$dst"
python3 - "$dst/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); m["facts"]["points"] += 1
json.dump(m, open(sys.argv[1], "w"), indent=2)
PY
check_fails 1 "test-restore fails when the manifest says one point more" \
    $Z test-restore "$IDA" --sink alt
grep_err "with the counts" "1500 points restored, manifest says 1501"
[ "$(state 'len([c for c in d["collections"] if c.startswith("zb_test_restore")])')" = 0 ] &&
    ok "scratch collection dropped after the failure" || fail "scratch left after failure"

# ---- collections = all ------------------------------------------------------------
check "run qall (collections = all, key from env:)" $Z run qall
n=$($Z list --json | python3 -c 'import json,sys
print(len({o["id"].split("@")[0] for o in json.load(sys.stdin) if o["id"].startswith("qall/")}))')
[ "$n" = 5 ] && ok "one stream per collection (5: alpha beta gamma alpha_copy empty)" || fail "qall streams: $n"

# ---- failures ----------------------------------------------------------------------
cp "$T/zb.ini" "$T/miss.ini"
printf '[source:qmiss]\nplugin = qdrant\nurl = %s\napi_key_file = %s\ncollections = alpha, nope\n[job:qmiss]\nsource = qmiss\nsinks = store\n' \
    "$QD_URL" "$T/qd.key" >>"$T/miss.ini"
check_fails 1 "a listed collection the server lacks fails the plan" "$CTL" -c "$T/miss.ini" run qmiss
grep_err "naming it" "collection 'nope' does not exist on $QD_URL"
no_manifest qmiss && ok "no manifest (missing collection)" || fail "manifest for qmiss"

check_fails 1 "a wrong api key fails" $Z run qbad
grep_err "names the status" "HTTP 401"
grep_err "names the source" "qbad"
no_manifest qbad && ok "no manifest (401)" || fail "manifest after 401"

qd_fault wrong_checksum 1
check_fails 1 "a wrong checksum fails the stream" $Z run qsum
grep_err "says why" "SHA-256 mismatch"
no_manifest qsum && ok "no manifest (wrong checksum)" || fail "manifest after a wrong checksum"
[ "$(snapshots_left)" = 0 ] && ok "snapshot deleted after the mismatch" ||
    fail "snapshots left: $(state 'd["snapshots"]')"

qd_fault truncate 1
curl -sf -X POST "$QD_URL/__log/clear" >/dev/null
check "a body cut short once is resumed" $Z run qcut
curl -sf "$QD_URL/__log" | python3 -c 'import json,sys
st = [e["status"] for e in json.load(sys.stdin)["log"] if e["method"] == "GET" and ".snapshot" in e["path"]]
sys.exit(0 if st == [200, 206] else 1)' && ok "resumed with a Range request (200, then 206)" ||
    fail "downloads: $(curl -sf "$QD_URL/__log")"
[ "$(snapshots_left)" = 0 ] && ok "snapshot deleted after the resumed download" || fail "snapshots left"
qd_fault truncate -1
check_fails 1 "a body always cut short fails" $Z run qcut
[ "$(find "$T/store/qcut" -name manifest.json | wc -l)" = 1 ] &&
    ok "no manifest for the truncated run" || fail "manifests of qcut: $(find "$T/store/qcut" -name manifest.json)"
[ "$(snapshots_left)" = 0 ] && ok "snapshot deleted after the truncations" || fail "snapshots left"
qd_fault clear

check_fails 1 "a stream aborted by its failing sink fails" $Z run qabort
[ "$(snapshots_left)" = 0 ] && ok "snapshot deleted after the abort" ||
    fail "snapshots left after the abort: $(state 'd["snapshots"]')"

qd_fault unavailable -1
start=$(date +%s)
check_fails 1 "a server answering 503 to everything fails" $Z run qdown
el=$(( $(date +%s) - start ))
[ "$el" -lt 120 ] && ok "gave up after ${el}s (< 2 min)" || fail "took ${el}s"
grep_err "names the status" "503"
qd_fault clear
no_manifest qdown && ok "no manifest (503)" || fail "manifest after 503"

qd_fault die 1
check_fails 1 "the server dying mid-download fails the run" $Z run qcut
[ "$(find "$T/store/qcut" -name manifest.json | wc -l)" = 1 ] &&
    ok "no manifest after the death" || fail "manifests of qcut: $(find "$T/store/qcut" -name manifest.json)"
wait "$QD_PID" 2>/dev/null
QD_PID=
qd_start || fail "restart the fake"
check "a run after the restart works" $Z run qsum

grep -rqF -- "$KEY" "$T/all.err" "$T/store" && fail "the api key shows in a log or a stored file" ||
    ok "the api key is in no log and no stored file"

finish
