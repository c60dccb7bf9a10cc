#!/bin/bash
# daemon_catchup.sh - catch-up after downtime, from the job state file:
# a daemon killed (SIGKILL) and started again before the job's next fire
# does not run it at start; killed and started again after two missed
# fires (`@every 4s': last start + 4 s passed while it was down) runs it
# once at start, not once per missed fire, and then on schedule again.
# A run the SIGKILL cut short is reported by the next start and recorded
# as interrupted; a torn state file is refused and set aside.
# zentoria-backupctl run records its runs in the same file (start, end,
# outcome ok or failed), and a manual run after a missed slot counts as
# the catch-up: the daemon started afterwards does not run the job again;
# a daemon started during a CLI run does not take it for an interrupted one.
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
# The next fire is 4 s after the catch-up's start (a whole second, so
# maybe up to 1 s before the run really began): look 3 s after it, not
# a fixed time after the restart, which a loaded machine stretches.
caught=$(jstate "$S" j last_start)
while [ "$(date +%s)" -lt $((caught + 3)) ]; do sleep 0.1; done
[ "$(jstate "$S" j runs)" = $((runs + 1)) ] &&
    ok "only one run for the missed fires" ||
    fail "$(($(jstate "$S" j runs) - runs)) runs after the restart"
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

# Killed mid-run: the next daemon says the run never ended.
kconf() {	# kconf SCHEDULE
	cat <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/kstate
compression = none

[source:slow]
plugin = command
command = sleep 2; echo late

[sink:d1]
plugin = local
path = $T/k1

[job:k]
source = slow
sinks = d1
schedule = $1
INI
}
kconf "@every 1s" >"$T/k.ini"
start_daemon k "$T/k.ini"
wait_until 4 grep -q "\[job:k\] run .* started" "$T/k.log" ||
    fail "k never started: $(tail -3 "$T/k.log")"
# The start is written to the state file on a worker, after the log line:
# the kill comes once it is there (it took longer under ASan in CI).
wait_true 3 '[ "$(jstate "$T/kstate" k outcome)" = running ]' ||
    fail "the run's start never reached the state file: $(jstate "$T/kstate" k outcome)"
stop_daemon "$DPID" KILL 5
[ "$(jstate "$T/kstate" k outcome)" = running ] &&
    ok "killed mid-run: the state says running" ||
    fail "state after SIGKILL: $(jstate "$T/kstate" k outcome)"
kconf "@every 1h" >"$T/k.ini"
start_daemon k2 "$T/k.ini"
wait_until 3 grep -q "job k: its run started at .* never ended (its process was killed?)" "$T/k2.log" &&
    ok "restart: the interrupted run is logged" ||
    fail "restart after a kill mid-run: $(cat "$T/k2.log")"
wait_true 3 '[ "$(jstate "$T/kstate" k outcome)" = interrupted ]' &&
    ok "and recorded as interrupted" ||
    fail "state: $(jstate "$T/kstate" k outcome)"
stop_daemon "$DPID" TERM 10
check_rc "SIGTERM: exit 0" "$rc" 0 "$T/k2.log"

# The CLI records its runs; a manual run after a missed slot is the catch-up.
cconf() {	# cconf COMMAND
	cat <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/cstate
compression = none

[source:src]
plugin = command
command = $1

[sink:d1]
plugin = local
path = $T/c1

[job:m]
source = src
sinks = d1
schedule = @every 1h
INI
}
cconf "echo manual" >"$T/m.ini"
# As if the daemon last ran m two hours ago: its hourly slot was missed.
old=$(($(date +%s) - 7200))
mkdir -p "$T/cstate/jobs"
cat >"$T/cstate/jobs/m.json" <<JSON
{"version": 1, "kind": "job", "name": "m", "last_fire": $old,
 "last_start": $old, "last_end": $((old + 5)), "outcome": "ok", "runs": 3,
 "skipped": 1}
JSON
t0=$(date +%s)
check "zentoria-backupctl run m" "$CTL" -c "$T/m.ini" run m
[ "$(jstate "$T/cstate" m outcome)" = ok ] &&
    [ "$(jstate "$T/cstate" m last_start)" -ge "$t0" ] &&
    [ "$(jstate "$T/cstate" m last_end)" -ge "$(jstate "$T/cstate" m last_start)" ] &&
    ok "a CLI run records its start, end and outcome ok" ||
    fail "state after a CLI run: $(cat "$T/cstate/jobs/m.json")"
[ "$(jstate "$T/cstate" m runs)" = 4 ] && [ "$(jstate "$T/cstate" m skipped)" = 1 ] &&
    [ "$(jstate "$T/cstate" m last_fire)" = "$old" ] &&
    ok "and keeps what the daemon recorded (runs 3 -> 4, skipped, last fire)" ||
    fail "state after a CLI run: $(cat "$T/cstate/jobs/m.json")"
start_daemon m "$T/m.ini"
wait_until 5 grep -q "job m: next run at" "$T/m.log" &&
    ok "a daemon started after the manual run waits for the next fire" ||
    fail "daemon after a CLI run: $(cat "$T/m.log")"
sleep 1
grep -q "missed while the daemon was down" "$T/m.log" &&
    fail "the daemon caught up again after the manual run: $(cat "$T/m.log")"
[ "$(jstate "$T/cstate" m runs)" = 4 ] && ok "no second run at start" ||
    fail "runs after the daemon's start: $(jstate "$T/cstate" m runs)"
stop_daemon "$DPID" TERM 10
check_rc "SIGTERM: exit 0" "$rc" 0 "$T/m.log"

cconf "exit 3" >"$T/m.ini"
t0=$(date +%s)
check_fails 1 "zentoria-backupctl run m (a failing source)" "$CTL" -c "$T/m.ini" run m
[ "$(jstate "$T/cstate" m outcome)" = failed ] &&
    [ "$(jstate "$T/cstate" m last_end)" -ge "$t0" ] &&
    [ "$(jstate "$T/cstate" m runs)" = 5 ] &&
    ok "a failed CLI run is recorded as failed" ||
    fail "state after a failed CLI run: $(cat "$T/cstate/jobs/m.json")"

# A daemon started while a CLI run is under way does not call it
# interrupted (the job's lock is held), and the run's end is recorded.
cconf "sleep 3; echo late" >"$T/m.ini"
"$CTL" -c "$T/m.ini" run m >"$T/cli.out" 2>"$T/cli.err" &
cpid=$!
BGPIDS+=("$cpid")
wait_true 5 '[ "$(jstate "$T/cstate" m outcome)" = running ]' ||
    fail "the CLI run is not recorded as running: $(cat "$T/cstate/jobs/m.json")"
start_daemon m2 "$T/m.ini"
wait_until 5 grep -q "job m: its run started at .* is under way (job m is already running (pid $cpid" "$T/m2.log" &&
    ok "a daemon started during a CLI run sees it under way" ||
    fail "daemon during a CLI run: $(cat "$T/m2.log")"
grep -q "never ended" "$T/m2.log" &&
    fail "the CLI's live run was called interrupted"
wait "$cpid"
check_rc "the CLI run ends: exit 0" "$?" 0 "$T/cli.err"
[ "$(jstate "$T/cstate" m outcome)" = ok ] && ok "its end is recorded: ok" ||
    fail "after the CLI run: $(cat "$T/cstate/jobs/m.json")"
stop_daemon "$DPID" TERM 10
check_rc "SIGTERM: exit 0" "$rc" 0 "$T/m2.log"
finish
