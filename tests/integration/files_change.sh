#!/bin/bash
# files_change.sh - a file that changes size while the files source reads
# it.  The job writes to a local sink and to the sink_slow fixture, which
# holds the stream once 1 MiB went through (so the walk is blocked inside
# the 32 MiB file, the buffers being far smaller) until the test has
# changed the file and created the release flag: no timing involved.
# A file that shrank fails the stream, naming the file and both sizes,
# and no manifest is written; a file that grew is stored as the walk saw
# it, with a warning.
. "$(dirname "$0")/lib.sh"

src="$T/src"
mkdir -p "$src"
printf 'small\n' >"$src/a-small"
truncate -s 32M "$src/big"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none
max_parallel_jobs = 1
max_buffer_mb = 2
chunk_kb = 256

[sink:disk]
plugin = local
path = $T/store

[sink:slow]
plugin = sink_slow
hold_at = 1M
hold_flag = $T/held
hold_until = $T/release

[source:src]
plugin = files
path = $src

[job:src]
source = src
sinks = disk, slow
INI
Z="$CTL -c $T/zb.ini"

# run_changing WHAT COMMAND...: run the job, and once the slow sink holds
# the stream, run COMMAND and release it.  Sets rc.
run_changing() {
	local what=$1 i pid
	shift
	rm -f "$T/held" "$T/release"
	$Z run src >"$T/out" 2>"$T/err" &
	pid=$!
	for i in $(seq 1 600); do
		[ -e "$T/held" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if [ -e "$T/held" ]; then
		ok "$what: the stream is held inside the file"
	else
		fail "$what: the sink never held the stream"
	fi
	"$@"
	touch "$T/release"
	wait "$pid"
	rc=$?
}

run_changing "shrink" truncate -s 100000 "$src/big"
[ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && ok "a file that shrank fails the run" ||
    fail "the run with a shrunk file exited $rc"
grep_err "naming the file and both sizes" \
    "$src/big: shrank from 33554432 to 100000 bytes while being read"
ls "$T"/store/src/files/*/manifest.json >/dev/null 2>&1 &&
    fail "a manifest was written for the failed stream" ||
    ok "no manifest for the failed stream"
ls "$T"/store/src/files/*/data.tar >/dev/null 2>&1 &&
    fail "data left on the sink" || ok "no data left on the sink"

truncate -s 32M "$src/big"
rm -rf "$T/store"
run_changing "grow" truncate -s 40M "$src/big"
[ "$rc" -eq 0 ] && ok "a file that grew is stored" ||
    fail "the run with a grown file exited $rc: $(tail -3 "$T/err")"
grep_err "with a warning naming the file and both sizes" \
    "$src/big: grew from 33554432 to 41943040 bytes while being read; only the first 33554432 are stored"
data=$(ls "$T"/store/src/files/*/data.tar 2>/dev/null)
if [ -n "$data" ] && tar -xOf "$data" src/big | cmp -s - <(head -c 33554432 /dev/zero); then
	ok "the first 32 MiB are stored"
else
	fail "stored data of the grown file"
fi

finish
