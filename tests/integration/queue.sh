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

# The same on the unlimited sink: the copies overlap (the check above
# would see it).
check "two jobs on a sink without max_copies" $CTL -c "$T/zb.ini" run ma mb
got=$(events | tr , '\n' | grep "^copy" | head -2 | paste -sd, -)
if [ "$got" = "copy+ ma,copy+ mb" ]; then
	ok "copies overlap on a sink without max_copies"
else
	fail "copies on a sink without max_copies: $(events)"
fi

# A bad value is refused with its file:line.
sed -i 's/^max_copies = 1$/max_copies = -1/' "$T/zb.ini"
check_fails 1 "max_copies = -1 refused" $CTL -c "$T/zb.ini" run a
grep_err "max_copies error names file:line" \
    "zb.ini:[0-9]*: \[sink:one\] max_copies: "

finish
