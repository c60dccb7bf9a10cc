#!/bin/bash
# daemon_reload.sh - SIGHUP: a broken configuration is refused with its
# file:line and the old one keeps running (its job goes on); a good one
# takes effect (a new job runs, a removed one stops; another timezone
# moves the next fire time of an unchanged schedule); sd_notify sends
# RELOADING=1 with MONOTONIC_USEC, then READY=1, over an abstract
# NOTIFY_SOCKET (@name).  log_level and max_parallel_jobs take effect on
# reload (debug lines appear, two runs at once; a removed log_level means
# info again); a changed pid_file is named as needing a restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"

S=$T/state
conf() {	# conf JOB...: a configuration with these jobs
	cat <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $S
compression = none

[source:quick]
plugin = command
command = sleep 0.7; date +%s%N

[source:other]
plugin = command
command = echo other

[sink:d1]
plugin = local
path = $T/d1
INI
	for j in "$@"; do
		printf '\n[job:%s]\nsource = %s\nsinks = d1\nschedule = @every 1s\n' \
		    "$j" "$([ "$j" = a ] && echo quick || echo other)"
	done
}
conf a >"$T/zb.ini"
sock="@zbtest-notify-$$-$RANDOM"
notify_listen "$sock" "$T/notify.txt" || fail "notify listener"
start_daemon r "$T/zb.ini" NOTIFY_SOCKET="$sock"
wait_until 5 runs_at_least "$S" a 1 || fail "a never ran: $(tail -3 "$T/r.log")"

# Broken: an unknown key on line 9.
conf a b | sed '9i bogus_key = 1' >"$T/zb.ini"
line=$(grep -n '^bogus_key' "$T/zb.ini" | cut -d: -f1)
kill -HUP "$DPID"
wait_until 5 grep -q "reload refused" "$T/r.log" &&
    ok "broken config: reload refused" || fail "no refusal: $(tail -5 "$T/r.log")"
grep -q "$T/zb.ini:$line:.*bogus_key" "$T/r.log" &&
    ok "the refusal names $T/zb.ini:$line" ||
    fail "no file:line in: $(grep -i bogus "$T/r.log")"
runs=$(jstate "$S" a runs)
wait_until 4 runs_at_least "$S" a $((runs + 2)) &&
    ok "the old configuration keeps running (a: $(jstate "$S" a runs) runs)" ||
    fail "a stopped after the refused reload"
[ -z "$(jstate "$S" b runs)" ] && ok "b of the broken file never ran" ||
    fail "b ran from a refused configuration"

# Good: b added while a runs (it runs 0.7 s of every second).
wait_true 3 '[ "$(jstate "$S" a outcome)" = running ]' ||
    fail "a is not running before the reload"
conf a b >"$T/zb.ini"
kill -HUP "$DPID"
wait_until 5 grep -q "$T/zb.ini: reloaded" "$T/r.log" &&
    ok "good config: reloaded" || fail "no reload: $(tail -5 "$T/r.log")"
wait_until 4 runs_at_least "$S" b 1 && ok "the new job b runs" ||
    fail "b never ran: $(tail -5 "$T/r.log")"
grep -q "never ended" "$T/r.log" &&
    fail "a reload took the daemon's own running run for an interrupted one" ||
    ok "a run in progress during a reload is not called interrupted"

# Good: a removed.
conf b >"$T/zb.ini"
kill -HUP "$DPID"
wait_true 5 '[ "$(grep -c "$T/zb.ini: reloaded" "$T/r.log")" = 2 ]' &&
    ok "second reload" || fail "no second reload: $(tail -5 "$T/r.log")"
sleep 1	# a run of a started before the reload may still end
runs=$(jstate "$S" a runs)
sleep 2
[ "$(jstate "$S" a runs)" = "$runs" ] && ok "the removed job a no longer runs" ||
    fail "a still runs after its removal"
stop_daemon "$DPID" TERM 10
check_rc "SIGTERM: exit 0" "$rc" 0 "$T/r.log"

sleep 0.2
kill "$LPID" 2>/dev/null
msgs=$(cut -d' ' -f1 "$T/notify.txt" | tr '\n' ' ')
[ "$msgs" = "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 STOPPING=1 " ] &&
    ok "sd_notify (abstract socket): $msgs" || fail "sd_notify: $msgs"
grep -Eq '^RELOADING=1 MONOTONIC_USEC=[0-9]+$' "$T/notify.txt" &&
    ok "RELOADING=1 carries MONOTONIC_USEC" ||
    fail "RELOADING=1 without MONOTONIC_USEC: $(cat "$T/notify.txt")"

# Another timezone moves the next fire time of an unchanged schedule.
tzconf() {	# tzconf ZONE
	cat <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/tzstate
timezone = $1

[source:quick]
plugin = command
command = date +%s%N

[sink:d1]
plugin = local
path = $T/d1

[job:midnight]
source = quick
sinks = d1
schedule = 0 0 * * *
INI
}
tzconf UTC >"$T/tz.ini"
start_daemon z "$T/tz.ini"
wait_until 5 grep -q "job midnight: next run at .*T00:00:00Z" "$T/z.log" &&
    ok "UTC: midnight at 00:00Z" || fail "UTC: $(cat "$T/z.log")"
tzconf +05:00 >"$T/tz.ini"
kill -HUP "$DPID"
wait_until 5 grep -q "job midnight: next run at .*T19:00:00Z" "$T/z.log" &&
    ok "reloaded with timezone = +05:00: midnight at 19:00Z" ||
    fail "timezone reload: $(cat "$T/z.log")"
stop_daemon "$DPID" TERM 10
check_rc "SIGTERM: exit 0" "$rc" 0 "$T/z.log"

# log_level and max_parallel_jobs on reload.
pconf() {	# pconf MAX_PARALLEL [LOG_LEVEL [PID_FILE]]
	cat <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/pstate
compression = none
max_parallel_jobs = $1
${2:+log_level = $2}
${3:+pid_file = $3}

[source:slow]
plugin = command
command = sleep 1.5; echo slow

[sink:d1]
plugin = local
path = $T/p1

[job:p1]
source = slow
sinks = d1
schedule = @every 1s

[job:p2]
source = slow
sinks = d1
schedule = @every 1s
INI
}
pconf 1 >"$T/p.ini"
start_daemon p "$T/p.ini"
wait_until 6 runs_at_least "$T/pstate" p1 1 ||
    fail "p1 never ran: $(tail -3 "$T/p.log")"
grep -q ": debug: " "$T/p.log" && fail "debug lines at log level info" ||
    ok "log level info: no debug lines"
pconf 2 debug >"$T/p.ini"
kill -HUP "$DPID"
wait_until 5 grep -q "$T/p.ini: reloaded" "$T/p.log" ||
    fail "no reload: $(tail -5 "$T/p.log")"
wait_until 5 grep -q ": debug: " "$T/p.log" &&
    ok "reloaded with log_level = debug: debug lines" ||
    fail "no debug line after the reload: $(tail -5 "$T/p.log")"
grep -q "max_parallel_jobs: 2, was 1" "$T/p.log" &&
    ok "the reload says max_parallel_jobs changed" ||
    fail "max_parallel_jobs reload not logged: $(tail -5 "$T/p.log")"
wait_until 8 grep -q "jobq: job p[12] starts (2 of 2 slots)" "$T/p.log" &&
    ok "reloaded with max_parallel_jobs = 2: two runs at once" ||
    fail "never two runs at once: $(grep 'jobq: job' "$T/p.log" | tail -5)"
pconf 2 "" "$T/other.pid" >"$T/p.ini"
kill -HUP "$DPID"
wait_true 5 '[ "$(grep -c "$T/p.ini: reloaded" "$T/p.log")" = 2 ]' ||
    fail "no second reload: $(tail -5 "$T/p.log")"
grep -q "$T/p.ini: \[daemon\] pid_file changed: it takes effect at the next restart" "$T/p.log" &&
    ok "a changed pid_file: the reload says it needs a restart" ||
    fail "pid_file change not reported: $(tail -5 "$T/p.log")"
n=$(wc -l <"$T/p.log")
sleep 2.5
tail -n +$((n + 1)) "$T/p.log" | grep -q ": debug: " &&
    fail "log_level removed: still debug lines: $(tail -n +$((n + 1)) "$T/p.log" | grep -m3 ': debug: ')" ||
    ok "log_level removed by a reload: info again"
wait_true 5 '[ "$(jstate "$T/pstate" p1 outcome)" != running ]'
stop_daemon "$DPID" TERM 10
check_rc "SIGTERM: exit 0" "$rc" 0 "$T/p.log"
[ -e "$T/other.pid" ] && fail "the reload wrote the new pid_file" ||
    ok "the new pid_file is not written before a restart"
finish
