#!/bin/bash
# n8n.sh - the n8n source against tests/fakes/n8n_fake.py: 300 workflows
# over two pages (limit=250, then the cursor) backed up as one document in
# id order (two runs give the same bytes), restored into an EMPTY n8n
# with the same names, nodes, connections, settings (filtered to the
# schema), tags and active flags; a restore refused without --force when
# names exist (nothing created), --force updates by name; restore to a
# file; a bad API key (401 named with the source); the server dying
# mid-listing (no manifest); a server answering 503 forever (the run gives
# up within 2 minutes).
. "$(dirname "$0")/lib.sh"

KEY=zb-n8n-key-$$-0123456789
FAKE_PIDS=
stop_fakes() {
	local p
	for p in $FAKE_PIDS; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}
trap 'stop_fakes; rm -rf "$T"' EXIT

# fake_start NAME [options]: sets ${NAME}_URL, ${NAME}_PID
fake_start() {
	local name=$1 i
	shift
	rm -f "$T/$name.port"
	python3 "$ZB_SRCDIR/tests/fakes/n8n_fake.py" --port 0 \
	    --port-file "$T/$name.port" --api-key "$KEY" "$@" \
	    >>"$T/$name.log" 2>&1 &
	eval "${name}_PID=$!"
	FAKE_PIDS="$FAKE_PIDS $!"
	for i in $(seq 1 100); do
		[ -s "$T/$name.port" ] && break
		sleep 0.1
	done
	[ -s "$T/$name.port" ] || { echo "n8n fake $name did not start" >&2;
	    cat "$T/$name.log" >&2; return 1; }
	eval "${name}_URL=http://127.0.0.1:$(cat "$T/$name.port")"
}
fget() { curl -sf "$1$2"; }
fpost() { curl -sf -X POST -H 'Content-Type: application/json' \
    --data "${3:-{\}}" "$1$2" >/dev/null; }
api() {	# api URL METHOD PATH [BODY]
	curl -sf -X "$2" -H "X-N8N-API-KEY: $KEY" \
	    -H 'Content-Type: application/json' ${4:+--data "$4"} "$1/api/v1/$3"
}

fake_start A --generate 300 || exit 1
fake_start B || exit 1
fake_start C --generate 300 || exit 1
fake_start D --generate 3 || exit 1

(umask 077; printf '%s\n' "$KEY" >"$T/n8n.key"; echo wrong-key >"$T/bad.key")
cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

[sink:store]
plugin = local
path = $T/store

[source:n8n]
plugin = n8n
url = $A_URL/
api_key_file = $T/n8n.key

[source:n8nbad]
plugin = n8n
url = $A_URL
api_key_file = $T/bad.key

[source:n8ndies]
plugin = n8n
url = $C_URL
api_key_file = $T/n8n.key

[source:n8n503]
plugin = n8n
url = $D_URL
api_key_file = $T/n8n.key
INI
for s in n8n n8nbad n8ndies n8n503; do
	printf '[job:%s]\nsource = %s\nsinks = store\n' "$s" "$s" >>"$T/zb.ini"
done
chmod 600 "$T/zb.ini"
Z="$CTL -c $T/zb.ini"

newest() {
	$Z list --json | python3 -c '
import json, sys
a = [o for o in json.load(sys.stdin) if o["source"] == sys.argv[1]]
print(max(a, key=lambda o: o["time"])["id"] if a else "")' "$1"
}
dir_of() {
	local src=${1%%/*} rest=${1#*/}
	echo "$T/store/$src/${rest%%@*}/${1##*@}"
}
next_second() {
	local s
	s=$(date +%s)
	while [ "$(date +%s)" = "$s" ]; do sleep 0.05; done
}

check "check-config" $DAEMON -c "$T/zb.ini" --check-config
check "plugins lists n8n" $Z plugins
grep -q '^n8n ' "$T/out" || fail "n8n in the plugin list"

# ---- backup: 300 workflows over two pages ---------------------------------
fpost "$A_URL" /__log/clear
check "run n8n" $Z run n8n
grep -q "job n8n: ok" "$T/out" || fail "run prints ok"
id=$(newest n8n)
case $id in n8n/workflows@*) ok "stream is workflows ($id)" ;;
*) fail "stream: $id" ;; esac
d=$(dir_of "$id")
[ -f "$d/data.json" ] && ok "stored as data.json" || fail "no data.json in $d"
fget "$A_URL" /__log >"$T/alog.json"
if python3 - "$T/alog.json" <<'PY'; then
import json, sys
log = [e for e in json.load(open(sys.argv[1]))
       if e["path"].startswith("/api/v1/workflows?")]
assert len(log) == 2, log
assert "limit=250" in log[0]["path"], log
assert "cursor=" in log[1]["path"], log
assert all(e["status"] == 200 for e in log), log
PY
	ok "listed in two pages: limit=250, then nextCursor"
else
	fail "paging requests"
fi
fget "$A_URL" /__state >"$T/astate.json"
if python3 - "$d/data.json" "$d/manifest.json" "$T/astate.json" <<'PY'; then
import json, sys
doc = json.load(open(sys.argv[1]))
m = json.load(open(sys.argv[2]))
st = json.load(open(sys.argv[3]))
assert doc["format"] == "zentoria-backupd/n8n-workflows", doc.keys()
w = doc["workflows"]
assert len(w) == 300, len(w)
ids = [x["id"] for x in w]
assert ids == sorted(ids), "not in id order"
byid = {x["id"]: x for x in st["workflows"]}
for x in w:
    assert x == byid[x["id"]], x["id"]          # verbatim, pinData included
assert [c["name"] for c in doc["credentials"]] != []
assert all(set(c) == {"id", "name", "type"} for c in doc["credentials"])
f = m["facts"]
assert f["workflows"] == 300, f
assert f["active"] == sum(1 for x in w if x["active"]) == 100, f
assert f["tags"] == "billing, ops, prod, émoji ✓", f
assert f["tags_count"] == 4, f
assert f["credentials"] == 2, f
PY
	ok "document: 300 workflows verbatim in id order, credential names; facts"
else
	fail "document or facts"
fi
next_second
check "second run" $Z run n8n
id2=$(newest n8n)
if [ "$id2" != "$id" ] && cmp -s "$d/data.json" "$(dir_of "$id2")/data.json"
then ok "two runs give the same bytes (stable order)"
else fail "second run differs ($id vs $id2)"; fi

# ---- restore into an empty n8n ----------------------------------------------
check "restore --to an empty n8n" $Z restore "$id" --to "$B_URL"
grep_err "the report has a summary" \
    "300 workflows: 300 created, 0 updated, 100 activated, 0 deactivated, 0 failed"
grep_err "the report names created workflows" "created 'Workflow 0000 plain' as "
grep_err "settings keys the API refuses are reported" \
    "settings key binaryMode left out of"
fget "$B_URL" /__state >"$T/bstate.json"
compare() {	# compare A.json B.json: same workflows by name
	python3 - "$1" "$2" <<'PY'
import json, sys
SETTINGS = {"saveExecutionProgress", "saveManualExecutions",
            "saveDataErrorExecution", "saveDataSuccessExecution",
            "executionTimeout", "errorWorkflow", "timezone",
            "executionOrder", "callerPolicy", "callerIds",
            "timeSavedPerExecution", "availableInMCP", "redactionPolicy"}
a = json.load(open(sys.argv[1]))["workflows"]
b = json.load(open(sys.argv[2]))["workflows"]
assert len(a) == len(b), (len(a), len(b))
bn = {w["name"]: w for w in b}
assert len(bn) == len(b), "duplicate names on the target"
for w in a:
    x = bn[w["name"]]
    assert x["nodes"] == w["nodes"], w["name"]
    assert x["connections"] == w["connections"], w["name"]
    assert x["active"] == w["active"], w["name"]
    assert x["settings"] == {k: v for k, v in w["settings"].items()
                             if k in SETTINGS}, w["name"]
    assert x["staticData"] == w["staticData"], w["name"]
    assert sorted(t["name"] for t in x["tags"]) == \
        sorted(t["name"] for t in w["tags"]), w["name"]
PY
}
if compare "$T/astate.json" "$T/bstate.json"; then
	ok "same names, nodes, connections, settings, staticData, tags, active"
else
	fail "the restored n8n differs"
fi

# ---- names exist: refused without --force, updated with it ------------------
fpost "$B_URL" /__log/clear
check_fails 1 "restore into an n8n with the same names" \
    $Z restore "$id" --to "$B_URL"
grep_err "refused naming the count" \
    "already has 300 workflows named as in the backup"
grep_err "nothing was created" "nothing was created (--force updates"
fget "$B_URL" /__log >"$T/blog.json"
if python3 -c 'import json,sys
log = json.load(open(sys.argv[1]))
assert all(e["method"] == "GET" for e in log), log' "$T/blog.json"; then
	ok "the refused restore only read (no POST/PUT)"
else
	fail "the refused restore wrote to the target"
fi
# Change the target: an active workflow deactivated and emptied.
python3 -c 'import json,sys
w = [x for x in json.load(open(sys.argv[1]))["workflows"] if x["active"]][0]
print(w["id"])
print(json.dumps({"name": w["name"], "nodes": [], "connections": {},
                  "settings": {}}))' "$T/bstate.json" >"$T/victim"
victim=$(sed -n 1p "$T/victim")
api "$B_URL" POST "workflows/$victim/deactivate" >/dev/null &&
    api "$B_URL" PUT "workflows/$victim" "$(sed -n 2p "$T/victim")" \
    >/dev/null || fail "changing the target"
check "restore --force updates by name" $Z restore "$id" --to "$B_URL" --force
grep_err "the report counts updates" \
    "300 workflows: 0 created, 300 updated, 100 activated"
fget "$B_URL" /__state >"$T/bstate2.json"
if compare "$T/astate.json" "$T/bstate2.json"; then
	ok "after --force: 300 workflows, the changed one restored"
else
	fail "after --force the target differs"
fi

# ---- one workflow refused: the others go on, the report says so -------------
fake_start E || exit 1
fpost "$E_URL" /__fault '{"refuse_create": ["Workflow 0002 Ünïcødé ✓"]}'
check_fails 1 "a restore with one refused workflow fails" \
    $Z restore "$id" --to "$E_URL"
grep_err "the failure names the workflow, step and status" \
    "workflow 'Workflow 0002 Ünïcødé ✓' (.* in the backup): create: HTTP 400"
grep_err "the summary counts it" \
    "300 workflows: 299 created, 0 updated, 100 activated, 0 deactivated, 1 failed"
grep_err "the run's message says how many failed" "1 of 300 workflows failed"
n=$(fget "$E_URL" /__state | python3 -c 'import json,sys
print(len(json.load(sys.stdin)["workflows"]))')
[ "$n" = 299 ] && ok "the other 299 were created" || fail "$n workflows on E"

# ---- restore to a file --------------------------------------------------------
check "restore --to FILE" $Z restore "$id" --to "$T/wf.json"
cmp -s "$T/wf.json" "$d/data.json" && ok "the file is the document" ||
    fail "restored file differs"

# ---- failures -----------------------------------------------------------------
check_fails 1 "a bad API key fails the run" $Z run n8nbad
grep_err "the failure names the source, the request and the 401" \
    "source failed: source:n8nbad: listing the workflows: HTTP 401"
[ -z "$(newest n8nbad)" ] && ok "no copy with a bad key" || fail "copy kept"

fpost "$C_URL" /__fault '{"die_on_cursor": true}'
check_fails 1 "the server dying mid-listing fails the run" $Z run n8ndies
grep_err "names the source and what failed" \
    "source failed: source:n8ndies: listing the workflows: "
kill -0 "$C_PID" 2>/dev/null && fail "the fake C should have exited" ||
    ok "the fake died on the second page"
if [ -z "$(find "$T/store" -path '*n8ndies*' -name manifest.json)" ]; then
	ok "no manifest after the server died"
else
	fail "a manifest was written"
fi

fpost "$D_URL" /__fault '{"always": 503, "retry_after": 20}'
t0=$(date +%s)
check_fails 1 "a server answering 503 forever fails the run" $Z run n8n503
el=$(( $(date +%s) - t0 ))
grep_err "the 503 is named" \
    "source failed: source:n8n503: listing the workflows: HTTP 503"
grep_err "retries were made" "retry 3 of 7"
if [ "$el" -lt 120 ] && [ "$el" -ge 60 ]; then
	ok "gave up after $el s (Retry-After honoured, deadline 100 s)"
else
	fail "gave up after $el s"
fi

finish
