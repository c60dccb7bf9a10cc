#!/bin/bash
# daemon.sh - zentoria-backupd runs jobs on their schedules: `@every 2s'
# runs on time (2 s apart, the first one 2 s after start: a job that never
# ran does not run at start); `jitter' delays each fire by a random 0 to
# jitter without moving the next fire time; a job slower than its interval never
# overlaps itself (the fire is skipped, logged and counted in its state
# file); keep_last = 2 holds on both sinks after several runs; sd_notify
# READY=1 and STOPPING=1 reach NOTIFY_SOCKET; SIGTERM with nothing left
# to wait for exits 0.  Then a CLI run of a job the daemon is running is
# refused naming the daemon's pid, and a fire while the CLI runs the job
# is skipped naming the CLI's pid.
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

[source:sleepy]
plugin = command
command = sleep 2.5; echo slept

[sink:d1]
plugin = local
path = $T/d1
keep_last = 2

[sink:d2]
plugin = local
path = $T/d2
keep_last = 2

[sink:d3]
plugin = local
path = $T/d3

[job:fast]
source = quick
sinks = d1, d2
schedule = @every 2s

[job:slow]
source = sleepy
sinks = d3
schedule = @every 1s

[job:jit]
source = quick
sinks = d3
schedule = @every 2s
jitter = 900ms
INI

notify_listen "$T/notify.sock" "$T/notify.txt" || fail "notify listener"
t0=$(date +%s)
start_daemon a "$T/zb.ini" NOTIFY_SOCKET="$T/notify.sock"
if wait_until 20 runs_at_least "$S" fast 4; then
	ok "fast ran 4 times"
else
	fail "fast: $(jstate "$S" fast runs) runs in 20 s: $(tail -5 "$T/a.log")"
fi
stop_daemon "$DPID" TERM 15
check_rc "SIGTERM: the daemon exits 0" "$rc" 0 "$T/a.log"
[ "$el" -lt 5000 ] && ok "SIGTERM: ended in $el ms (a 2.5 s run at most)" ||
    fail "SIGTERM: ended after $el ms"

# On time: 2 s apart; the first one 2 s after start, not at start.
mapfile -t st < <(stamps "$T/a.log" fast)
prev=$t0
bad=
for s in "${st[@]}"; do
	e=$(epoch "$s")
	d=$((e - prev))
	if [ "$prev" = "$t0" ]; then
		[ "$d" -ge 1 ] && [ "$d" -le 3 ] || bad="$bad first at +$d s;"
	else
		[ "$d" -ge 2 ] && [ "$d" -le 3 ] || bad="$bad $s after $d s;"
	fi
	prev=$e
done
[ "${#st[@]}" -ge 4 ] && [ -z "$bad" ] &&
    ok "fast: ${#st[@]} runs 2 s apart, the first 2 s after start" ||
    fail "fast timing (${#st[@]} runs):$bad ${st[*]}"
[ "$(jstate "$S" fast runs)" = "${#st[@]}" ] &&
    [ "$(jstate "$S" fast outcome)" = ok ] &&
    ok "fast: the state file counts ${#st[@]} runs, outcome ok" ||
    fail "fast state: $(cat "$S/jobs/fast.json")"

# Never overlapping: every start of slow follows the end of the one before.
seq=$(sed -n -e 's/.*\[job:slow\] run [0-9TZ-]* started.*/S/p' \
    -e 's/.*\[job:slow\] run [0-9TZ-]*: .*/E/p' "$T/a.log" | tr -d '\n')
case $seq in
SE*) if [[ $seq =~ SS ]]; then
		fail "slow overlapped itself: $seq"
	else
		ok "slow never overlapped itself ($seq)"
	fi ;;
*)	fail "slow: no run: $seq" ;;
esac
nskip=$(grep -c "job slow: fire at .* skipped: still running since" "$T/a.log")
[ "$nskip" -ge 2 ] && ok "slow: $nskip fires skipped and logged" ||
    fail "slow: $nskip skipped fires logged"
[ "$(jstate "$S" slow skipped)" = "$nskip" ] &&
    ok "slow: the state file counts the $nskip skipped fires" ||
    fail "slow: state counts $(jstate "$S" slow skipped), log $nskip"
grep -q "job fast: fire .* skipped" "$T/a.log" &&
    fail "fast (quicker than its interval) was skipped" ||
    ok "fast: no fire skipped"

# jitter = 900ms: each fire delayed 0-900 ms, drawn anew; the fire times
# stay 2 s apart (the jitter does not add up).
mapfile -t jl < <(sed -n 's/.*job jit: fire at \([0-9:TZ-]*\) delayed \([0-9]*\) ms by its jitter.*/\1 \2/p' "$T/a.log")
bad=
distinct=$(for l in "${jl[@]}"; do echo "${l#* }"; done | sort -u | wc -l)
prev=
for l in "${jl[@]}"; do
	e=$(date -u -d "${l% *}" +%s)
	ms=${l#* }
	[ "$ms" -le 900 ] || bad="$bad delay $ms;"
	[ -z "$prev" ] || [ $((e - prev)) = 2 ] || bad="$bad fire $((e - prev)) s after the last;"
	prev=$e
done
[ "${#jl[@]}" -ge 3 ] && [ -z "$bad" ] && [ "$distinct" -ge 2 ] &&
    ok "jit: ${#jl[@]} fires 2 s apart, each delayed 0-900 ms ($distinct distinct delays)" ||
    fail "jit:$bad ${#jl[@]} fires, $distinct distinct delays: ${jl[*]}"

# keep_last = 2 on both sinks: the two newest runs.
want=$(printf '%s\n' "${st[@]}" | tail -2 | tr '\n' ' ')
for d in d1 d2; do
	have=$(cd "$T/$d/quick/output" && ls -d */manifest.json 2>/dev/null |
	    sed 's,/manifest.json,,' | sort | tr '\n' ' ')
	[ "$have" = "$want" ] && ok "$d: keep_last = 2 kept $have" ||
	    fail "$d: copies '$have', want '$want'"
done
grep -q "retention of source quick: 1 removed" "$T/a.log" &&
    ok "retention logged" || fail "no retention line in the log"

# sd_notify
sleep 0.2
grep -q '^READY=1' "$T/notify.txt" && ok "sd_notify: READY=1" ||
    fail "sd_notify READY=1: $(cat "$T/notify.txt")"
grep -q '^STOPPING=1' "$T/notify.txt" && ok "sd_notify: STOPPING=1" ||
    fail "sd_notify STOPPING=1: $(cat "$T/notify.txt")"
[ "$(head -1 "$T/notify.txt" | cut -d' ' -f1)" = READY=1 ] &&
    [ "$(tail -1 "$T/notify.txt" | cut -d' ' -f1)" = STOPPING=1 ] &&
    ok "sd_notify: READY first, STOPPING last" ||
    fail "sd_notify order: $(cat "$T/notify.txt")"

# ---- the job lock between the daemon and zentoria-backupctl run ---------------
cat >"$T/lock.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/lstate
compression = none

[source:sleepy]
plugin = command
command = sleep 3; echo slept

[sink:d3]
plugin = local
path = $T/l3

[job:slow]
source = sleepy
sinks = d3
schedule = @every 1s
INI
start_daemon l "$T/lock.ini"
if wait_until 5 grep -q "\[job:slow\] run .* started" "$T/l.log"; then
	check_fails 1 "backupctl run of a job the daemon runs: refused" \
	    "$CTL" -c "$T/lock.ini" run slow
	grep_err "names the daemon's pid" "already running (pid $DPID holds"
else
	fail "the daemon did not start slow: $(tail -3 "$T/l.log")"
fi
stop_daemon "$DPID" TERM 10
check_rc "SIGTERM during a run: exit 0" "$rc" 0 "$T/l.log"
# Now the CLI runs it, and the daemon's fires find the lock held.
"$CTL" -c "$T/lock.ini" run slow >"$T/cli.out" 2>"$T/cli.err" &
CPID=$!
BGPIDS+=("$CPID")
wait_until 5 grep -q "run .* started" "$T/cli.err"
start_daemon l2 "$T/lock.ini"
if wait_until 4 grep -q "job slow: fire at .* skipped: job slow is already running (pid $CPID holds" "$T/l2.log"; then
	ok "daemon: a fire while the CLI runs the job is skipped, naming its pid"
else
	fail "daemon vs CLI lock: $(grep -i "slow" "$T/l2.log" | tail -3)"
fi
wait "$CPID"
check_rc "the CLI run went on" $? 0 "$T/cli.err"
stop_daemon "$DPID" TERM 10
check_rc "SIGTERM: exit 0" "$rc" 0 "$T/l2.log"
kill "$LPID" 2>/dev/null
finish
