#!/bin/bash
# s3_stall.sh - a stalled S3 server and SIGTERM/SIGINT (issue 14, 3).
#
# Against the strict S3 fake: a GET that stops mid-body, then the whole
# server SIGSTOPped (it still accepts connections: the kernel completes
# them).  With `timeout = 2s' `list', `run' and `verify' end with a
# timeout error within a few times the timeout; with `timeout = 1h' they
# end within 5 s of SIGTERM or SIGINT, with 143 or 130, and a run writes
# no manifest.  Then a FIFO given as configuration (backupctl and the
# daemon) and a source command that ignores SIGTERM must also end within
# 5 s of SIGTERM, the command's processes killed.  Every command runs
# under `timeout -s KILL 60' so that a regression fails instead of
# hanging (interrupt() SIGKILLs after 30 s).
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/s3fake.sh"
cleanup() {
	[ -n "$S3_PID" ] && kill -CONT "$S3_PID" 2>/dev/null
	[ -n "${BG:-}" ] && kill -KILL "$BG" 2>/dev/null
	s3fake_stop
	rm -rf "$T"
}
trap cleanup EXIT
BG=

ms() { echo $(($(date +%s%N) / 1000000)); }

# alive PID: running (not a zombie waiting for `wait')
alive() {
	local s
	s=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$s" ] && [ "$s" != Z ]
}

# timed CMD...: run it (killed after 60 s); sets rc and el (ms)
timed() {
	local t0
	t0=$(ms)
	timeout -s KILL 60 "$@" >"$T/out" 2>"$T/err"
	rc=$?
	el=$(($(ms) - t0))
}

# interrupt SIG AFTER CMD...: start CMD, send SIG AFTER seconds later;
# sets rc and el (ms from the signal to the exit; KILLed after 30 s).
interrupt() {
	local sig=$1 after=$2 t0 i
	shift 2
	"$@" >"$T/out" 2>"$T/err" &
	BG=$!
	sleep "$after"
	t0=$(ms)
	kill -"$sig" "$BG"
	for i in $(seq 1 300); do
		alive "$BG" || break
		sleep 0.1
	done
	el=$(($(ms) - t0))
	kill -KILL "$BG" 2>/dev/null
	wait "$BG"
	rc=$?
	BG=
}

# expect_within WHAT MAX_MS WANT_RC PATTERN: judge the last timed/interrupt
expect_within() {
	if [ "$el" -le "$2" ] && [ "$rc" -eq "$3" ] &&
	    grep -qiE -- "$4" "$T/err"; then
		ok "$1 (exit $rc after $el ms)"
	else
		fail "$1: exit $rc after $el ms (want $3 within $2 ms and" \
		    "'$4'): $(tail -3 "$T/err")"
	fi
}

manifests() {
	s3fake_get /__state | python3 -c 'import json,sys
d = json.load(sys.stdin)
print(sum(k.endswith("/manifest.json")
          for k in d["buckets"]["backups"]["objects"]))'
}

s3fake_start --buckets backups || exit 1
head -c 3000000 /dev/urandom >"$T/rand.bin"
mkfifo "$T/fifo.ini"

sink() {	# sink NAME TIMEOUT RETRIES
	cat <<INI
[sink:$1]
plugin = s3
endpoint = $S3_URL
bucket = backups
access_key_file = $T/s3.ak
secret_key_file = $T/s3.sk
timeout = $2
retries = $3

INI
}
{
	cat <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

INI
	sink fast 2s 1
	sink once 2s 0
	sink slow 1h 5
	cat <<INI
[sink:near]
plugin = local
path = $T/near

[source:rand]
plugin = command
command = cat $T/rand.bin
extension = bin

[source:stubborn]
plugin = command
command = echo \$\$ >$T/child.pid; trap '' TERM; sleep 1000

[job:fast]
source = rand
sinks = fast

[job:slow]
source = rand
sinks = slow

[job:stubborn]
source = stubborn
sinks = near

; fails once the source's data flows (after the in-progress marker)
[sink:broken]
plugin = sink_slow
fail_at = 100K

[source:stubborn2]
plugin = command
command = echo \$\$ >$T/child.pid; trap '' TERM; head -c 2000000 $T/rand.bin; sleep 1000

[job:stubborn-broken]
source = stubborn2
sinks = broken

[source:pg]
plugin = postgresql
conninfo = host=127.0.0.1 port=$S3_PORT user=postgres dbname=postgres
timeout = 2s

[job:pg]
source = pg
sinks = near
INI
} >"$T/zb.ini"
chmod 600 "$T/zb.ini"
C=(timeout -s KILL 60 "$CTL" -c "$T/zb.ini")
I=("$CTL" -c "$T/zb.ini")	# interrupt() signals the program itself

check "a first backup while the server answers" "${C[@]}" run fast
"${C[@]}" list --sink fast >"$T/list" 2>&1
id=$(grep -o 'rand/output@[0-9TZ-]*' "$T/list" | head -1)
[ -n "$id" ] || fail "no artifact listed: $(cat "$T/list")"

# ---- a GET that stops mid-body: the stall bound ends it ------------------
# (curl measures speed over 5 s: the stall is seen timeout to timeout + 5 s
# after the last byte)
s3fake_post "/__fault?op=GetObject&match=data.bin%3F&where=mid&stall_ms=120000&count=10"
timed "${C[@]}" verify --latest --sink once
expect_within "verify: a GET stalled mid-body fails within timeout + 10 s" \
    12000 1 "GET s3://backups/rand/output/.*/data.bin: timeout was reached"
interrupt TERM 2.5 "${I[@]}" verify --latest --sink slow
expect_within "verify (timeout 1h): a stalled GET ends within 5 s of SIGTERM" \
    5000 143 "\(from sink:slow\): interrupted by signal 15"
s3fake_post "/__fault?reset"

# ---- the whole server stopped: every request stalls ------------------------
before=$(manifests)
kill -STOP "$S3_PID"

timed "${C[@]}" list --sink fast
expect_within "list: ends within 5 x timeout (2 attempts)" 10000 1 \
    "cannot list.*timeout was reached"
timed "${C[@]}" run fast
expect_within "run: ends within 5 x timeout" 10000 1 \
    "timeout was reached|no progress"
timed "${C[@]}" verify --latest --sink fast
expect_within "verify: ends within 5 x timeout" 10000 1 \
    "timeout was reached"

if [ -e "$ZB_TEST_PLUGIN_DIR/postgresql.so" ]; then
	timed "${C[@]}" run pg
	expect_within "postgresql source, timeout 2s: ends within 4 s" 4000 1 \
	    "no connection after 2.0 s"
fi

interrupt TERM 1.5 "${I[@]}" list --sink slow
expect_within "list (timeout 1h): ends within 5 s of SIGTERM, 143" 5000 143 \
    "interrupted by SIGTERM"
interrupt INT 1.5 "${I[@]}" list --sink slow
expect_within "list (timeout 1h): ends within 5 s of SIGINT, 130" 5000 130 \
    "interrupted by SIGINT"
interrupt TERM 2 "${I[@]}" run slow
expect_within "run (timeout 1h): ends within 5 s of SIGTERM, 143" 5000 143 \
    "aborting: interrupted"
interrupt INT 2 "${I[@]}" run slow
expect_within "run (timeout 1h): ends within 5 s of SIGINT, 130" 5000 130 \
    "aborting: interrupted"
interrupt TERM 1.5 "${I[@]}" verify --latest --sink slow
expect_within "verify (timeout 1h): ends within 5 s of SIGTERM, 143" 5000 \
    143 "interrupted by SIGTERM"
interrupt TERM 1.5 "${I[@]}" restore "$id" --sink slow --to "$T/restored"
expect_within "restore (timeout 1h): ends within 5 s of SIGTERM, 143" 5000 \
    143 "interrupted by SIGTERM"
[ ! -e "$T/restored" ] && ok "restore: no target file" ||
    fail "restore: $T/restored exists"
interrupt INT 1.5 "${I[@]}" prune --sink slow --grace 0
expect_within "prune (timeout 1h): ends within 5 s of SIGINT, 130" 5000 \
    130 "interrupted by SIGINT"

kill -CONT "$S3_PID"
after=$(manifests)
if [ "$before" = "$after" ]; then
	ok "no manifest from the failed or interrupted runs ($after)"
else
	fail "manifests: $before before, $after after the stalled runs"
fi
check "the server answers again: list" "${C[@]}" list --sink slow

# ---- waiting on something else -------------------------------------------
interrupt TERM 1 "$CTL" -c "$T/fifo.ini" list
expect_within "backupctl -c FIFO: ends within 5 s of SIGTERM" 5000 143 "."
interrupt TERM 1 "$DAEMON" -c "$T/fifo.ini"
if [ "$el" -le 5000 ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 137 ]; then
	ok "zentoria-backupd -c FIFO: ends within 5 s of SIGTERM ($rc)"
else
	fail "zentoria-backupd -c FIFO: exit $rc after $el ms"
fi

interrupt TERM 1 "$DAEMON" -c "$T/zb.ini"
expect_within "zentoria-backupd: stops within 5 s of SIGTERM, 0" 5000 0 \
    "interrupted by SIGTERM"

rm -f "$T/child.pid"
interrupt TERM 2 "${I[@]}" run stubborn
expect_within "run: a command ignoring SIGTERM ends within 5 s, 143" 5000 \
    143 "SIGKILL"
pg=$(cat "$T/child.pid" 2>/dev/null)
sleep 0.3
# (a zombie reparented to an init that does not reap still counts for kill -0)
if [ -n "$pg" ] && [ -z "$(ps -eo pgid=,stat= | awk -v g="$pg" '$1 == g && $2 !~ /Z/')" ]; then
	ok "the command's process group is gone"
else
	fail "the command's process group ${pg:-?} is still there"
	[ -n "$pg" ] && kill -KILL -- "-$pg" 2>/dev/null
fi
if [ -z "$(find "$T/near" -name manifest.json 2>/dev/null)" ]; then
	ok "no manifest for the interrupted copy"
else
	fail "a manifest was written: $(find "$T/near" -name manifest.json)"
fi

# No signal: the only sink fails, the stream is aborted, the command gets
# SIGTERM and ignores it; the run ends and the command is SIGKILLed 2 s later.
rm -f "$T/child.pid"
timed "${C[@]}" run stubborn-broken
expect_within "a command ignoring SIGTERM after a failed copy: SIGKILL" \
    6000 1 "still running: SIGKILL"
pg=$(cat "$T/child.pid" 2>/dev/null)
if [ -n "$pg" ] && [ -z "$(ps -eo pgid=,stat= | awk -v g="$pg" '$1 == g && $2 !~ /Z/')" ]; then
	ok "and its process group is gone"
else
	fail "the command's process group ${pg:-?} is still there"
	[ -n "$pg" ] && kill -KILL -- "-$pg" 2>/dev/null
fi

finish
