#!/bin/bash
# daemon_catchup.sh - catch-up after downtime, from the job state file:
# a daemon killed (SIGKILL) and started again before the job's next fire
# does not run it at start; killed and started again after two missed
# fires (`@every 4s': last start + 4 s passed while it was down) runs it
# once at start, not once per missed fire, and then on schedule again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"

S=$T/state
cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $S
compression = none

[source:quick]
plugin = command
command = date +%s%N

[sink:d1]
plugin = local
path = $T/d1

[job:j]
source = quick
sinks = d1
schedule = @every 4s
INI

start_daemon a "$T/zb.ini"
wait_until 6 runs_at_least "$S" j 1 || fail "no first run: $(tail -3 "$T/a.log")"
stop_daemon "$DPID" KILL 5
first=$(jstate "$S" j last_start)

# Back before last start + 4 s: nothing runs at start.
start_daemon b "$T/zb.ini"
sleep 1
if [ "$(jstate "$S" j runs)" = 1 ] &&
    [ "$(date +%s)" -lt $((first + 4)) ]; then
	ok "restarted before the next fire: no run at start"
else
	fail "restart before the next fire: runs $(jstate "$S" j runs)," \
	    "$(($(date +%s) - first)) s after the first start"
fi
grep -q "missed while the daemon was down" "$T/b.log" &&
    fail "a catch-up before the fire was due"
wait_until 5 runs_at_least "$S" j 2 && ok "then it runs at its fire time" ||
    fail "no second run: $(tail -3 "$T/b.log")"
second=$(jstate "$S" j last_start)
[ $((second - first)) -ge 4 ] && [ $((second - first)) -le 5 ] &&
    ok "second run 4 s after the first (anchored on the last start)" ||
    fail "second run $((second - first)) s after the first"
stop_daemon "$DPID" KILL 5

# Down for two fire times: one run at start.
sleep 8.5
runs=$(jstate "$S" j runs)
t1=$(date +%s)
start_daemon c "$T/zb.ini"
wait_until 2 runs_at_least "$S" j $((runs + 1)) &&
    [ $(($(jstate "$S" j last_start) - t1)) -le 1 ] &&
    ok "after two missed fires: a run at start" ||
    fail "no catch-up run at start: $(cat "$S/jobs/j.json") $(tail -3 "$T/c.log")"
[ "$(grep -c "missed while the daemon was down" "$T/c.log")" = 1 ] &&
    ok "catch-up logged once" || fail "catch-up log: $(cat "$T/c.log")"
sleep 2
[ "$(jstate "$S" j runs)" = $((runs + 1)) ] &&
    ok "only one run for the missed fires" ||
    fail "$(($(jstate "$S" j runs) - runs)) runs after the restart"
caught=$(jstate "$S" j last_start)
wait_until 6 runs_at_least "$S" j $((runs + 2)) &&
    [ $(($(jstate "$S" j last_start) - caught)) -ge 4 ] &&
    ok "then on schedule again, 4 s later" ||
    fail "after the catch-up (at $caught): $(cat "$S/jobs/j.json")"
stop_daemon "$DPID" TERM 10
check_rc "SIGTERM: exit 0" "$rc" 0 "$T/c.log"

# A torn state file is refused with its path and set aside.
printf '{"version": 1, "kind": "job", "na' >"$S/jobs/j.json"
start_daemon d "$T/zb.ini"
wait_until 3 grep -q "refused" "$T/d.log"
grep -q "job j: $S/jobs/j.json: refused: not JSON .*moved aside to $S/jobs/j.json.refused" "$T/d.log" &&
    ok "torn state file: refused, named, set aside" ||
    fail "torn state file: $(cat "$T/d.log")"
stop_daemon "$DPID" TERM 10
check_rc "SIGTERM: exit 0" "$rc" 0 "$T/d.log"
[ -f "$S/jobs/j.json.refused" ] && ok "the torn file is kept for a look" ||
    fail "no $S/jobs/j.json.refused"
finish
