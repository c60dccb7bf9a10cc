#!/bin/bash
# queue.sh - the job queue (core/jobq.c) and the run state machine
# (core/run.c) seen from `zentoria-backupctl run': with max_parallel_jobs
# = 1 jobs run one after the other in the order given; [sink:NAME]
# max_copies = 1 lets one copy at a time be written to that sink, over
# all jobs, in order, while an unlimited sink takes them at once; at
# log_level = debug every state transition of a run is logged.
. "$(dirname "$0")/lib.sh"

write_ini() {	# max_parallel_jobs
	cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none
log_level = debug
max_parallel_jobs = $1

[sink:one]
plugin = local
path = $T/one
max_copies = 1

[sink:many]
plugin = local
path = $T/many

[source:a]
plugin = command
command = sleep 0.4; echo a

[source:b]
plugin = command
command = sleep 0.4; echo b

[source:c]
plugin = command
command = sleep 0.4; echo c

[job:a]
source = a
sinks = one

[job:b]
source = b
sinks = one

[job:c]
source = c
sinks = one

[job:ma]
source = a
sinks = many

[job:mb]
source = b
sinks = many
INI
}

# The sequence of run starts/ends and copy starts/ends in $T/err, as
# "run+ a", "run- a", "copy+ a", "copy- a" on one line.
events() {
	sed -n -e 's/.*\[job:\([a-z]*\)\] run [^ ]* started:.*/run+ \1/p' \
	    -e 's/.*\[job:\([a-z]*\)\] run [^ ]*: [a-z]* (.*/run- \1/p' \
	    -e 's/.*\[job:\([a-z]*\)\] [a-z]*\/output@[^ ]*: started$/copy+ \1/p' \
	    -e 's/.*\[job:\([a-z]*\)\] [a-z]*\/output@[^ ]*: .*, stored .*/copy- \1/p' \
	    "$T/err" | paste -sd, -
}

expect_events() {	# what, expected [filter: only events matching]
	local got
	got=$(events | tr , '\n' | grep -- "${3:-.}" | paste -sd, -)
	if [ "$got" = "$2" ]; then
		ok "$1"
	else
		fail "$1: got '$got', expected '$2'"
	fi
}

# ---- max_parallel_jobs = 1: one job after the other, in the order given.
write_ini 1
check "three jobs, max_parallel_jobs = 1" $CTL -c "$T/zb.ini" run c a b
expect_events "jobs run in the order given, one at a time" \
    "run+ c,copy+ c,copy- c,run- c,run+ a,copy+ a,copy- a,run- a,run+ b,copy+ b,copy- b,run- b"
if [ "$(cut -d: -f1 "$T/out" | paste -sd, -)" = "job c,job a,job b" ]; then
	ok "result lines in the order the jobs ended"
else
	fail "result lines: $(cat "$T/out")"
fi

# ---- the run state machine at debug level.
for t in "planning -> streaming" "streaming -> finishing" \
    "finishing -> done" "queued -> marking" "marking -> streaming" \
    "streaming -> committing" "committing -> ended"; do
	grep_err "transition $t logged" "debug: run c [0-9TZ-]*: .*$t"
done

# ---- max_copies = 1 on sink "one": three jobs at once write one copy
# there at a time, in submission order.
write_ini 4
check "three jobs, max_parallel_jobs = 4, max_copies = 1" \
    $CTL -c "$T/zb.ini" run a b c
expect_events "the three runs start at once" \
    "run+ a,run+ b,run+ c" "^run+"
expect_events "one copy at a time on a max_copies = 1 sink, in order" \
    "copy+ a,copy- a,copy+ b,copy- b,copy+ c,copy- c" "^copy"
grep_err "a waiting run is logged" "debug: run b .*: waiting for a copy slot"

# The same on the unlimited sink: the copies overlap, both start before
# either ends (the check above would see it).
check "two jobs on a sink without max_copies" $CTL -c "$T/zb.ini" run ma mb
got=$(events | tr , '\n' | grep "^copy" | head -2 | sort | paste -sd, -)
if [ "$got" = "copy+ ma,copy+ mb" ]; then
	ok "copies overlap on a sink without max_copies"
else
	fail "copies on a sink without max_copies: $(events)"
fi

# ---- SIGINT while a run streams and another job waits for the slot:
# the run goes streaming -> aborting -> done, the queued job never
# starts, nothing of either is left on the sink.
write_ini 1
cat >>"$T/zb.ini" <<INI
[source:slow]
plugin = command
command = echo begin; exec sleep 60

[job:slow]
source = slow
sinks = one
INI
$CTL -c "$T/zb.ini" run slow b >"$T/out" 2>"$T/err" &
pid=$!
for i in $(seq 50); do
	grep -q "slow/output@.*: started" "$T/err" && break
	sleep 0.1
done
kill -INT $pid
wait $pid
check_rc "SIGINT ends the batch with exit 130" $? 130 "$T/err"
grep_err "the run was streaming when aborted" \
    "debug: run slow [0-9TZ-]*: streaming -> aborting"
grep_err "the aborted run ends" "debug: run slow [0-9TZ-]*: aborting -> done"
grep_err "the queued job ends unstarted" \
    "jobq: job b aborted before it started: interrupted by a signal"
if ! grep -q "\[job:b\] run" "$T/err" && [ "$(cut -d' ' -f1-2 "$T/out")" = "job slow:" ]; then
	ok "job b never ran and prints nothing"
else
	fail "job b: $(cat "$T/out")"
fi
if [ -z "$(find "$T/one/slow" -name manifest.json 2>/dev/null)" ]; then
	ok "the aborted run left no manifest"
else
	fail "manifest of an aborted run: $(find "$T/one/slow")"
fi

# A bad value is refused with its file:line.
sed -i 's/^max_copies = 1$/max_copies = -1/' "$T/zb.ini"
check_fails 1 "max_copies = -1 refused" $CTL -c "$T/zb.ini" run a
grep_err "max_copies error names file:line" \
    "zb.ini:[0-9]*: \[sink:one\] max_copies: "

finish
