#!/bin/bash
# vault.sh - the vault source against tests/fakes/vault_fake.py: a raft
# snapshot backed up (facts: version, raft index and term), restored to a
# file and into a second Vault (the same data there afterwards), a
# snapshot of another seal (refused without --force, snapshot-force with
# it), a standby's 307 followed with the token, AppRole login; failures
# that must leave no manifest: a truncated body, wrong SHA256SUMS, the
# server dying mid-body, no meta.json, an unexpected file, a token without
# permission (403, named), a server answering 503 to everything (gives up
# within 2 minutes); restores refused before anything is posted: a sealed
# target, a standby target.  No token in any argv, environment or log.
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/procwatch.sh"

FAKE=$ZB_SRCDIR/tests/fakes/vault_fake.py
FAKE_PIDS=
cleanup() {
	local p
	for p in $FAKE_PIDS; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -n "${ZB_KEEP_T:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT

# vstart NAME ARGS...: a fake Vault; sets URL_NAME
vstart() {
	local name=$1 i
	shift
	python3 "$FAKE" --port 0 --port-file "$T/$name.port" "$@" \
	    2>"$T/$name.log" &
	FAKE_PIDS="$FAKE_PIDS $!"
	for i in $(seq 100); do
		[ -s "$T/$name.port" ] && break
		sleep 0.1
	done
	[ -s "$T/$name.port" ] || { fail "fake $name did not start"; return 1; }
	printf -v "URL_$name" 'http://127.0.0.1:%s' "$(cat "$T/$name.port")"
}

# fctl URL METHOD PATH [JSON]: a control request to a fake
fctl() {
	if [ $# -ge 4 ]; then
		curl -sf -X "$2" -H 'Content-Type: application/json' \
		    --data-binary "$4" "$1$3"
	else
		curl -sf -X "$2" "$1$3"
	fi
}

# raft URL KEY: one value of the fake's GET /__raft
raft() {
	fctl "$1" GET /__raft | python3 -c \
	    'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

# log_has URL METHOD PATH STATUS: the fake's request log has that request,
# sent with a token
log_has() {
	fctl "$1" GET /__log | python3 -c '
import json, sys
log = json.load(sys.stdin)
m, p, st = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.exit(0 if any(e["method"] == m and e["path"] == p and
                  e["status"] == st and e["token"] for e in log) else 1)
' "$2" "$3" "$4"
}

# posts URL: POSTs of a snapshot in the fake's request log
posts() {
	fctl "$1" GET /__log | python3 -c '
import json, sys
print(sum(1 for e in json.load(sys.stdin) if e["method"] in ("POST", "PUT")
          and e["path"].startswith("/v1/sys/storage/raft/snapshot")))'
}

no_manifest() {
	[ -z "$(find "$T/store" -path "*/$1/*" -name manifest.json 2>/dev/null)" ]
}

newest() {
	$Z list --json | python3 -c '
import json, sys
a = [o for o in json.load(sys.stdin) if o["source"] == sys.argv[1]]
print(max(a, key=lambda o: o["time"])["id"] if a else "")' "$1"
}

manifest_of() {
	local src=${1%%/*} rest=${1#*/}
	local stream=${rest%%@*} time=${1##*@}
	echo "$T/store/$src/$stream/$time/manifest.json"
}

rnd() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }
ROOT="hvs.root-$(rnd)"
NOPERM="hvs.noperm-$(rnd)"
ROLE_ID="role-$(rnd)"
SECRET_ID="sid-$(rnd)"
APPTOK="hvs.approle-$(rnd)"
KVPW="pw-$(rnd)"
(umask 077
 printf '%s\n' "$ROOT" >"$T/root.tok"
 printf '%s\n' "$NOPERM" >"$T/noperm.tok"
 printf '%s\n' "$ROLE_ID" >"$T/role_id"
 printf '%s\n' "$SECRET_ID" >"$T/secret_id"
 printf 'wrong-secret-id\n' >"$T/bad_secret_id"
 cat >"$T/seed1.json" <<JSON
{"tokens": {"$ROOT": {}, "$NOPERM": {"paths": ["secret/"]}},
 "approle": [{"role_id": "$ROLE_ID", "secret_id": "$SECRET_ID",
              "paths": ["sys/storage/raft/"], "token": "$APPTOK"}],
 "kv": {"secret": {"zentoria/backup/postgresql": {"password": "$KVPW"}}}}
JSON
 cat >"$T/seed2.json" <<JSON
{"tokens": {"$ROOT": {}},
 "approle": [{"role_id": "$ROLE_ID", "secret_id": "$SECRET_ID",
              "paths": ["sys/storage/raft/"], "token": "$APPTOK"}],
 "kv": {"secret": {"zentoria/backup/postgresql": {"password": "other"}}}}
JSON
)
SECRET_FILES="$T/root.tok $T/noperm.tok $T/role_id $T/secret_id $T/seed1.json $T/seed2.json"

vstart v1 --seed "$T/seed1.json" --version 1.16.3 || { finish; exit 1; }
vstart v2 --seed "$T/seed2.json" || { finish; exit 1; }
vstart sb --seed "$T/seed2.json" --standby || { finish; exit 1; }
vstart sealed --seed "$T/seed2.json" --sealed || { finish; exit 1; }
vstart bad --token "$ROOT" || { finish; exit 1; }
vstart down --token "$ROOT" || { finish; exit 1; }
fctl "$URL_v1" POST /__raft '{"filler": 3000000}' >/dev/null
fctl "$URL_bad" POST /__raft '{"filler": 3000000}' >/dev/null
fctl "$URL_sb" POST /__raft "{\"active\": \"$URL_v1\"}" >/dev/null
# 503 with Retry-After: 35 to every snapshot request: only the retry
# deadline ends the run in time (5 attempts would take 140 s).
fctl "$URL_down" POST /__raft '{"fault": "busy", "retry_after": 35}' >/dev/null

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

[sink:store]
plugin = local
path = $T/store

[source:v]
plugin = vault
address = $URL_v1/
token_file = $T/root.tok

[source:vsb]
plugin = vault
address = $URL_sb
token_file = $T/root.tok

[source:vapp]
plugin = vault
address = $URL_v1
approle_role_id_file = $T/role_id
approle_secret_id_file = $T/secret_id

[source:vappbad]
plugin = vault
address = $URL_v1
approle_role_id_file = $T/role_id
approle_secret_id_file = $T/bad_secret_id

[source:vnoperm]
plugin = vault
address = $URL_v1
token_file = $T/noperm.tok

[source:vbad]
plugin = vault
address = $URL_bad
token_file = $T/root.tok
timeout = 5s

[source:vsealed]
plugin = vault
address = $URL_sealed
token_file = $T/root.tok

[source:vdown]
plugin = vault
address = $URL_down
token_file = $T/root.tok
INI
for s in v vsb vapp vappbad vnoperm vbad vsealed vdown; do
	printf '[job:%s]\nsource = %s\nsinks = store\n' "$s" "$s" >>"$T/zb.ini"
done
chmod 600 "$T/zb.ini"
Z="$CTL -c $T/zb.ini"

procwatch_start "$ROOT" "$NOPERM" "$SECRET_ID" "$APPTOK"

check "check-config" $DAEMON -c "$T/zb.ini" --check-config
check "plugins lists vault" $Z plugins
grep -q '^vault ' "$T/out" || fail "vault in the plugin list"

# A Vault answering 503 (Retry-After: 35) to every snapshot request, in
# the background while the rest runs: the run must give up within 2
# minutes, having retried.
DOWN_T0=$(date +%s)
$Z run vdown >"$T/down.out" 2>"$T/down.err" &
DOWN_PID=$!

# ---- a backup -----------------------------------------------------------------
check "run v" $Z run v
grep -q "job v: ok" "$T/out" || fail "run prints ok: $(cat "$T/out")"
grep_err "the check is logged" 'meta.json, state.bin and SHA256SUMS verified'
id=$(newest v)
case $id in v/raft@*) ok "stream raft: $id" ;; *) fail "stream name: $id" ;; esac
M=$(manifest_of "$id")
SNAP=$(dirname "$M")/data.snap
[ -f "$SNAP" ] && ok "stored as data.snap" || fail "data.snap missing"
if python3 - "$M" "$(raft "$URL_v1" index)" "$(raft "$URL_v1" term)" \
    "$(stat -c %s "$SNAP")" <<'PY'; then
import json, sys
f = json.load(open(sys.argv[1]))["facts"]
assert f["vault"]["version"] == "1.16.3", f
assert f["vault"]["cluster_name"] == "vault-cluster-fake", f
assert f["raft"]["index"] == int(sys.argv[2]), (f, sys.argv[2])
assert f["raft"]["term"] == int(sys.argv[3]), f
assert f["raft"]["servers"] == 1, f
assert f["raft"]["state_bytes"] > 3000000, f
assert f["snapshot_bytes"] == int(sys.argv[4]), f
PY
	ok "facts: version, raft index/term, sizes"
else
	fail "facts"
fi
[ "$(tar tzf "$SNAP" | paste -sd' ')" = \
    "meta.json state.bin SHA256SUMS SHA256SUMS.sealed" ] &&
    ok "the stored snapshot is the archive" || fail "tar listing of data.snap"
check "verify" $Z verify "$id"

# ---- restore to a file ----------------------------------------------------------
check_fails 1 "restore without --to fails" $Z restore "$id"
grep_err "without --to, the way is named" 'give --to PATH'
check "restore --to FILE" $Z restore "$id" --to "$T/r.snap"
cmp -s "$T/r.snap" "$SNAP" && ok "the file is the snapshot" ||
    fail "restored file differs"

# ---- restore into a second Vault ------------------------------------------------
S1=$(raft "$URL_v1" state_sha256)
[ "$S1" != "$(raft "$URL_v2" state_sha256)" ] && ok "v2 differs before" ||
    fail "v2 equals v1 before the restore"
fctl "$URL_v2" POST /__log/clear >/dev/null
check "restore --to URL" $Z restore "$id" --to "$URL_v2/"
[ "$(raft "$URL_v2" state_sha256)" = "$S1" ] &&
    ok "v2 holds v1's data after the restore" || fail "v2's state differs"
[ "$(raft "$URL_v2" restores)" = 1 ] && ok "one restore on v2" ||
    fail "restores on v2: $(raft "$URL_v2" restores)"
log_has "$URL_v2" POST /v1/sys/storage/raft/snapshot 204 &&
    ok "POST snapshot with the token, 204" || fail "no POST snapshot on v2"
pw=$(curl -sf -H "X-Vault-Token: $ROOT" \
    "$URL_v2/v1/secret/data/zentoria/backup/postgresql" | python3 -c \
    'import json, sys; print(json.load(sys.stdin)["data"]["data"]["password"])')
[ "$pw" = "$KVPW" ] && ok "v2 serves v1's secret" || fail "KV on v2: $pw"

# another seal: refused without --force, snapshot-force with it
fctl "$URL_v2" POST /__raft '{"seal": "another-seal"}' >/dev/null
check_fails 1 "restore of another seal's snapshot" $Z restore "$id" \
    --to "$URL_v2"
grep_err "400 and the way out" 'HTTP 400.*different set of unseal keys.*--force'
check "restore --force" $Z restore "$id" --to "$URL_v2" --force
log_has "$URL_v2" POST /v1/sys/storage/raft/snapshot-force 204 &&
    ok "--force posts snapshot-force" || fail "no snapshot-force on v2"

# refused targets: nothing posted
check_fails 1 "restore into a sealed Vault" $Z restore "$id" --to "$URL_sealed"
grep_err "sealed: refused" 'refusing to restore into .*: it is sealed.*nothing was posted'
[ "$(posts "$URL_sealed")" = 0 ] && ok "nothing posted to the sealed Vault" ||
    fail "a POST reached the sealed Vault"
check_fails 1 "restore into a standby" $Z restore "$id" --to "$URL_sb"
grep_err "standby: refused" 'it is a standby'
[ "$(posts "$URL_sb")" = 0 ] && ok "nothing posted to the standby" ||
    fail "a POST reached the standby"
check_fails 1 "restore into nothing" $Z restore "$id" \
    --to "http://127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
grep_err "no answer: refused" 'refusing to restore into .*sys/health'

# ---- a standby redirects ------------------------------------------------------------
fctl "$URL_v1" POST /__log/clear >/dev/null
check "run vsb (standby)" $Z run vsb
log_has "$URL_sb" GET /v1/sys/storage/raft/snapshot 307 &&
    ok "the standby answered 307" || fail "no 307 from the standby"
log_has "$URL_v1" GET /v1/sys/storage/raft/snapshot 200 &&
    ok "the active node got the token after the redirect" ||
    fail "no authorized GET on the active node"
[ -n "$(newest vsb)" ] && ok "a copy of vsb" || fail "no copy of vsb"

# ---- AppRole ----------------------------------------------------------------------
fctl "$URL_v1" POST /__log/clear >/dev/null
check "run vapp (AppRole)" $Z run vapp
fctl "$URL_v1" GET /__log | python3 -c '
import json, sys
log = json.load(sys.stdin)
login = [i for i, e in enumerate(log) if e["path"] == "/v1/auth/approle/login"
         and e["status"] == 200]
snap = [i for i, e in enumerate(log) if e["path"] ==
        "/v1/sys/storage/raft/snapshot" and e["status"] == 200 and e["token"]]
sys.exit(0 if login and snap and login[0] < snap[0] else 1)' &&
    ok "login, then the snapshot with its token" || fail "AppRole sequence"
# a restore with the AppRole logs in at the target (v2, which holds v1's
# data, AppRole included, since the restore above)
fctl "$URL_v2" POST /__log/clear >/dev/null
check "restore vapp --to URL (AppRole)" $Z restore "$(newest vapp)" \
    --to "$URL_v2" --force
fctl "$URL_v2" GET /__log | python3 -c '
import json, sys
log = [(e["method"], e["path"], e["status"]) for e in json.load(sys.stdin)]
h = log.index(("GET", "/v1/sys/health", 200))
l = log.index(("POST", "/v1/auth/approle/login", 200))
p = log.index(("POST", "/v1/sys/storage/raft/snapshot-force", 204))
sys.exit(0 if h < l < p else 1)' &&
    ok "health, AppRole login at the target, then the POST" ||
    fail "AppRole restore sequence on v2"
check_fails 1 "run vappbad (wrong secret_id)" $Z run vappbad
grep_err "login error names the status" 'AppRole login at .*HTTP 400.*invalid role or secret ID'
grep_err "and the source" 'vappbad'
no_manifest vappbad && ok "vappbad: no manifest" || fail "vappbad left a manifest"

# ---- 403 -------------------------------------------------------------------------
check_fails 1 "run vnoperm (403)" $Z run vnoperm
grep_err "403 named" 'HTTP 403.*permission denied'
grep_err "the source named" 'vnoperm'
no_manifest vnoperm && ok "vnoperm: no manifest" || fail "vnoperm left a manifest"

# ---- a sealed Vault -------------------------------------------------------------
check_fails 1 "run vsealed" $Z run vsealed
grep_err "sealed: the state named" 'http://127.0.0.1:[0-9]* is sealed: no snapshot to take'
no_manifest vsealed && ok "vsealed: no manifest" || fail "vsealed left a manifest"

# ---- broken snapshots ------------------------------------------------------------
for f in "truncate:truncated: the gzip stream ends early" \
    "badsums:SHA256SUMS: state.bin does not match its sum" \
    "nometa:no meta.json in the snapshot" \
    "extra:unexpected file 'notes.txt' in the snapshot" \
    "die:"; do
	fault=${f%%:*} msg=${f#*:}
	fctl "$URL_bad" POST /__raft "{\"fault\": \"$fault\"}" >/dev/null
	check_fails 1 "run vbad ($fault)" $Z run vbad
	[ -n "$msg" ] && grep_err "$fault: the check says why" "$msg"
	no_manifest vbad && ok "$fault: no manifest" ||
	    fail "$fault: a manifest was written"
done
grep_err "die: a transfer error" 'GET http://127.0.0.1:[0-9]*/v1/sys/storage/raft/snapshot: '
fctl "$URL_bad" POST /__raft '{"fault": ""}' >/dev/null
check "run vbad (fault cleared)" $Z run vbad
[ -n "$(newest vbad)" ] && ok "vbad backs up once healthy" ||
    fail "no copy of vbad"

# ---- always 503 ---------------------------------------------------------------------
wait "$DOWN_PID"
rc=$?
DOWN_S=$(( $(date +%s) - DOWN_T0 ))
check_rc "run vdown (always 503)" "$rc" 1 "$T/down.err"
[ "$DOWN_S" -lt 120 ] && ok "gave up after ${DOWN_S}s (< 120)" ||
    fail "vdown took ${DOWN_S}s"
grep -q 'HTTP 503.*Vault is busy' "$T/down.err" && ok "503 named" ||
    fail "no HTTP 503 in: $(tail -3 "$T/down.err")"
grep -q 'retry 2 of 4 in 35' "$T/down.err" && ok "Retry-After honoured" ||
    fail "no retry after 35 s: $(grep retry "$T/down.err" | tail -3)"
[ "$DOWN_S" -ge 50 ] && ok "it did wait (${DOWN_S}s)" ||
    fail "vdown gave up after ${DOWN_S}s without waiting"
no_manifest vdown && ok "vdown: no manifest" || fail "vdown left a manifest"

# ---- no token anywhere ---------------------------------------------------------------
procwatch_check "the tokens" zentoria-backup
# The snapshots hold the fake's tokens, as Vault's do: only logs and state.
no_secret_in "no token in any output, log or state" "$T/all.err" \
    "$T/down.err" "$T/state" "$T/out"

finish
