#!/bin/bash
# daemon_stop.sh - SIGTERM: scheduling stops; a run that ends within
# [daemon] shutdown_timeout completes (its copy committed), and the daemon
# exits 0 when it ended; a run that does not is aborted when the timeout
# is over: exit 0 within the timeout and a little grace, no manifest, no
# file of its half-written copy left, no copy listed, its command killed,
# its state "aborted".  The pid_file
# holds the daemon's pid while it runs and is gone after.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"

conf() {	# conf COMMAND TIMEOUT
	cat <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none
shutdown_timeout = $2
pid_file = $T/zb.pid

[source:cmd]
plugin = command
command = $1

[sink:d]
plugin = local
path = $T/d

[job:j]
source = cmd
sinks = d
schedule = @every 1s
INI
}

# A run that finishes within the timeout.
conf "sleep 1.5; echo done" 10s >"$T/a.ini"
start_daemon a "$T/a.ini"
wait_until 3 grep -q "\[job:j\] run .* started" "$T/a.log" ||
    fail "no run: $(tail -3 "$T/a.log")"
[ "$(cat "$T/zb.pid" 2>/dev/null)" = "$DPID" ] &&
    ok "pid_file holds the daemon's pid" || fail "pid_file: $(cat "$T/zb.pid")"
stop_daemon "$DPID" TERM 15
check_rc "SIGTERM during a 1.5 s run: exit 0" "$rc" 0 "$T/a.log"
[ "$el" -lt 4000 ] && ok "ended when the run did ($el ms)" ||
    fail "ended $el ms after SIGTERM"
n=$(find "$T/d" -name manifest.json | wc -l)
[ "$n" = 1 ] && ok "the run finished: its copy is committed" ||
    fail "$n manifests after a run allowed to finish"
[ "$(grep -c "\[job:j\] run .* started" "$T/a.log")" = 1 ] &&
    ok "no new run after SIGTERM" || fail "runs after SIGTERM: $(grep started "$T/a.log")"
[ ! -e "$T/zb.pid" ] && ok "pid_file removed at exit" || fail "pid_file left"
[ "$(jstate "$T/state" j outcome)" = ok ] && ok "state: ok" ||
    fail "state: $(jstate "$T/state" j outcome)"

# A run that outlives shutdown_timeout.
rm -rf "$T/d" "$T/state"
marker="sleep 30.$$"
conf "head -c 300000 /dev/urandom; $marker; echo never" 2s >"$T/b.ini"
start_daemon b "$T/b.ini"
wait_until 5 grep -q "cmd/output@.*: started" "$T/b.log" ||
    fail "no run: $(tail -3 "$T/b.log")"
sleep 0.3
stop_daemon "$DPID" TERM 15
check_rc "SIGTERM during a 30 s run: exit 0" "$rc" 0 "$T/b.log"
[ "$el" -ge 1800 ] && [ "$el" -lt 5000 ] &&
    ok "aborted after shutdown_timeout = 2s ($el ms)" ||
    fail "ended $el ms after SIGTERM (shutdown_timeout = 2s)"
grep -q "shutdown_timeout (2.0 s) is over: aborting 1 run" "$T/b.log" &&
    ok "the abort is logged" || fail "no abort line: $(tail -5 "$T/b.log")"
n=$(find "$T/d" -name manifest.json 2>/dev/null | wc -l)
[ "$n" = 0 ] && ok "the aborted copy has no manifest" ||
    fail "$n manifests after an aborted run"
left=$(find "$T/d" -type f 2>/dev/null)
[ -z "$left" ] && ok "nothing half-written left on the sink" ||
    fail "left on the sink after the abort: $left"
check "list after the abort" "$CTL" -c "$T/b.ini" list --json
[ "$(tr -d ' \n' <"$T/out")" = "[]" ] && ok "no copy listed" ||
    fail "listed: $(cat "$T/out")"
running_cmd() {	# running_cmd TEXT: a process whose argv holds TEXT
	local f
	for f in /proc/[0-9]*/cmdline; do
		tr '\0' ' ' <"$f" 2>/dev/null | grep -qF -- "$1" && return 0
	done
	return 1
}
running_cmd "$marker" && fail "the command still runs" ||
    ok "the aborted run's command was killed"
[ "$(jstate "$T/state" j outcome)" = aborted ] && ok "state: aborted" ||
    fail "state: $(jstate "$T/state" j outcome)"
[ ! -e "$T/zb.pid" ] && ok "pid_file removed" || fail "pid_file left"
finish
