#!/bin/bash
# daemon_check.sh - scheduled [check:NAME] sections: the daemon runs them
# on their schedules and writes each result to state_dir/checks/NAME.json
# (outcome, duration, restore time, one entry per copy checked) and to
# its log.  A copy with a changed byte (same size) passes verify, which
# compares sizes and the sidecar, and fails deep-verify, which reads it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"

S=$T/state
cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $S
compression = none

[source:num]
plugin = command
command = seq 1 100000
extension = txt

[sink:near]
plugin = local
path = $T/near

[sink:far]
plugin = local
path = $T/far

[job:fast]
source = num
sinks = near, far
schedule = 0 0 1 1 *

[check:v]
schedule = @every 1s
kind = verify
jobs = fast

[check:deep]
schedule = @every 2s
kind = deep-verify
jobs = fast
sinks = far
INI
check "a copy on both sinks" "$CTL" -c "$T/zb.ini" run fast
data=$(ls "$T"/far/num/output/*/data.txt)
python3 - "$data" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(1000)
    b = f.read(1)
    f.seek(1000)
    f.write(bytes([b[0] ^ 1]))
PY

cstate() {	# cstate CHECK FIELD
	python3 - "$S/checks/$1.json" "$2" <<'PY'
import json, sys
try:
    print(json.load(open(sys.argv[1]))[sys.argv[2]])
except FileNotFoundError:
    print("")
PY
}
checked() {	# checked CHECK: ran once, ended
	local n o
	n=$(cstate "$1" runs)
	o=$(cstate "$1" outcome)
	[ -n "$n" ] && [ "$n" -ge 1 ] && [ "$o" != running ]
}

start_daemon c "$T/zb.ini"
wait_until 8 checked v || fail "check v never ended: $(tail -5 "$T/c.log")"
wait_until 8 checked deep || fail "check deep never ended: $(tail -5 "$T/c.log")"
stop_daemon "$DPID" TERM 15
check_rc "SIGTERM: exit 0" "$rc" 0 "$T/c.log"

python3 - "$S/checks/v.json" <<'PY' && ok "verify: ok, both sinks, in checks/v.json" ||
import json, sys
c = json.load(open(sys.argv[1]))
assert c["kind"] == "check" and c["name"] == "v", c
assert c["outcome"] == "ok" and c["items"] == 2 and c["failed"] == 0, c
assert sorted(r["sink"] for r in c["results"]) == ["far", "near"], c
assert all(r["ok"] and r["id"].startswith("num/output@") for r in c["results"]), c
assert c["last_end"] >= c["last_start"] > 0, c
PY
    fail "checks/v.json: $(cat "$S/checks/v.json")"
python3 - "$S/checks/deep.json" <<'PY' && ok "deep-verify: the changed byte fails it, in checks/deep.json" ||
import json, sys
c = json.load(open(sys.argv[1]))
assert c["outcome"] == "failed" and c["items"] == 1 and c["failed"] == 1, c
r = c["results"][0]
assert r["sink"] == "far" and not r["ok"] and r["error"], c
assert c["restore_ms"] >= 0 and c["duration_ms"] >= 0, c
PY
    fail "checks/deep.json: $(cat "$S/checks/deep.json")"
grep -q "check v: ok: 2 copies checked, 0 failed" "$T/c.log" &&
    ok "verify result logged" || fail "no verify result in the log"
grep -q "check deep: failed: 1 copy checked, 1 failed" "$T/c.log" &&
    ok "deep-verify result logged" || fail "no deep-verify result in the log"
grep -q "job fast: next run at 20[0-9][0-9]-01-01T00:00:00Z" "$T/c.log" &&
    ok "the job waits for its fire time (no catch-up: the CLI run is not the daemon's)" ||
    fail "job fast: $(grep 'job fast' "$T/c.log")"
finish
