# daemon_lib.sh - helpers for the tests that start zentoria-backupd
# (sourced after lib.sh, bash).  Every daemon and listener a test starts
# is stopped by its PID: by the test, or by the EXIT trap set here.

BGPIDS=()
trap 'for p in "${BGPIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$T"' EXIT

# start_daemon NAME INI [VAR=VALUE...]: zentoria-backupd in the background,
# stderr (its log) in $T/NAME.log; sets DPID.
start_daemon() {
	local name=$1 ini=$2
	shift 2
	env "$@" "$DAEMON" -c "$ini" --foreground >"$T/$name.out" \
	    2>"$T/$name.log" &
	DPID=$!
	BGPIDS+=("$DPID")
}

alive() {
	kill -0 "$1" 2>/dev/null
}

# stop_daemon PID SIG MAX_S: send SIG, wait up to MAX_S seconds, then
# SIGKILL; sets rc (the exit status) and el (ms until it ended).
stop_daemon() {
	local pid=$1 sig=$2 max=$3 t0 i
	t0=$(date +%s%3N)
	kill -"$sig" "$pid" 2>/dev/null
	for i in $(seq 1 $((max * 20))); do
		alive "$pid" || break
		sleep 0.05
	done
	el=$(($(date +%s%3N) - t0))
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
}

# wait_until MAX_S CMD...: poll CMD every 0.1 s; false if it never held.
wait_until() {
	local max=$1 i
	shift
	for i in $(seq 1 $((max * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# wait_true MAX_S 'EXPRESSION': the same for a shell expression evaluated
# anew each time (wait_until's arguments are expanded once, so a $(...)
# in them would never change).
wait_true() {
	wait_until "$1" eval "$2"
}

# jstate STATE_DIR JOB FIELD: a field of the daemon's job state file
# ("" when the file is missing).
jstate() {
	python3 - "$1/jobs/$2.json" "$3" <<'PY'
import json, sys
try:
    print(json.load(open(sys.argv[1]))[sys.argv[2]])
except FileNotFoundError:
    print("")
PY
}

# runs_at_least STATE_DIR JOB N: the job state records N runs, the last
# one ended.
runs_at_least() {
	local n o
	n=$(jstate "$1" "$2" runs)
	o=$(jstate "$1" "$2" outcome)
	[ -n "$n" ] && [ "$n" -ge "$3" ] && [ "$o" != running ]
}

# stamps LOG JOB: the run stamps the log says were started, in order.
stamps() {
	sed -n "s/.*\[job:$2\] run \([0-9TZ-]*\) started.*/\1/p" "$1"
}

# epoch STAMP: seconds since the epoch of a run stamp (2026-12-06T150458Z).
epoch() {
	local s=${1%%-[0-9][0-9]}
	date -u -d "${s:0:10} ${s:11:2}:${s:13:2}:${s:15:2}" +%s
}

# notify_listen SOCKET OUT: a datagram listener standing in for systemd
# (SOCKET a path, or @name for the abstract namespace); one line per
# message in OUT, newlines as blanks.  Sets LPID.
notify_listen() {
	python3 - "$1" "$2" <<'PY' &
import os, socket, sys
name, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + name[1:] if name.startswith("@") else name)
open(out + ".ready", "w").close()
with open(out, "ab", buffering=0) as f:
    while True:
        d = s.recv(4096)
        f.write(d.replace(b"\n", b" ").strip() + b"\n")
PY
	LPID=$!
	BGPIDS+=("$LPID")
	wait_until 5 test -e "$2.ready"
}
