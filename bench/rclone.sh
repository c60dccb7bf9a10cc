#!/bin/bash
# rclone.sh - the rclone sink against `rclone copyto' of the same file,
# measured in the same invocation (these machines are noisy), both to one
# `rclone serve webdav' on 127.0.0.1.
#
#   bench/rclone.sh [SIZE]     default 1G
#
# A backup of the file to the local tier is made first (not timed); then
# ROUNDS times (default 3) in turn:
#   baseline:  rclone copyto FILE dav:copyto/N.bin
#   floor:     the same while `openssl dgst -sha256 FILE' runs: a copy
#              job checks the bytes it sends against the manifest
#              (SHA-256, with OpenSSL's code, as our worker does: SHA-NI
#              where the CPU has it), which on 2 CPUs competes with rclone
#              and the server (printed, no target)
#   copy:      zentoria-backupctl copy --from local --to dav: the stored
#              object (compression none: the file's bytes), which
#              rclone copies from the local file itself (copyfile in the
#              sink's rclone rcd) while we check it against the
#              manifest, listed and moved into place; then the sidecar
#              (in place) and the manifest (moved into place).
#              This is the offsite path of the reference deployment (a
#              daily copy job from the local tier); target <= 1.1.
#   backup:    zentoria-backupctl run: the command source `cat FILE'
#              straight to the rclone sink.  A backup's stream has no
#              size until it ends, and rclone's WebDAV (and OneDrive)
#              backend cannot upload a stream of unknown size: rcat
#              spools it to its temp_dir and uploads after the end, so
#              this is about (spool + upload) / upload; printed, no target.
# The server logs each request (-v): the requests of the last round's
# copyto and copy are printed (rclone's WebDAV backend spaces its
# requests at least 10 ms apart, so each costs about 11 ms here).
# Prints the CPU model and whether it has SHA-NI (our SHA-256 of the
# stream runs on it), the best wall time of each, the ratios (best of
# ROUNDS, and the median of the rounds' own ratios, each copy against the
# copyto of its round, as bench/pg.sh does) and the peak
# RSS of zentoria-backupctl (GNU time; rclone's own memory is in its
# process, as for copyto) against max_buffer_mb + 16 MiB.
#
# Uses the build in $ZB_BUILD (default ./_build) and /usr/bin/rclone.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
size=${1:-1G}
rounds=${ROUNDS:-3}
build=${ZB_BUILD:-$PWD/_build}
budget_mb=${BUDGET_MB:-64}
[ -x "$build/zentoria-backupctl" ] || { echo "no build in $build: configure and make there first" >&2; exit 1; }
command -v rclone >/dev/null || { echo "rclone is not installed" >&2; exit 1; }
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
T=$(mktemp -d /tmp/zbbench-rclone.XXXXXX)
chmod 700 "$T"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pass="zb-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
# The server's files go to tmpfs when it has room for four copies: what
# is measured is the upload path, not this machine's disk (a cloud disk
# here sustains ~350 MB/s after a burst of GiBs, and its writeback would
# slow whichever step came after another).  Both sides share the server.
dav="$T/dav"
shm_kb=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
if [ -n "$shm_kb" ] && [ "$shm_kb" -gt $(( $(numfmt --from=iec "$size") * 4 / 1024 )) ]; then
	dav=$(mktemp -d /dev/shm/zbbench-dav.XXXXXX)
fi
mkdir -p "$dav"
# -v: one log line per request, counted below for each step.
rclone serve webdav -v --addr "127.0.0.1:$port" --user zb --pass "$pass" \
    "$dav" >"$T/serve.log" 2>&1 &
SPID=$!
# errexit holds in the trap too: a kill or wait that fails (143, the
# server ended by the kill) must not skip the rm of two GiB of files.
trap 'kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; rm -rf "$T" "$dav"' EXIT
for i in $(seq 1 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done
(umask 077; printf '[dav]\ntype = webdav\nurl = http://127.0.0.1:%s\nvendor = other\nuser = zb\npass = %s\n' \
    "$port" "$(rclone obscure "$pass")" >"$T/rclone.conf")

mkdir -p "$T/plugins"
for so in "$build"/plugins/*/.libs/*.so; do ln -sf "$so" "$T/plugins/"; done
head -c "$(numfmt --from=iec "$size")" /dev/urandom >"$T/file.bin"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $T/plugins
state_dir = $T/state
compression = none
max_buffer_mb = $budget_mb
[sink:dav]
plugin = rclone
remote = dav:zb
rclone_config = $T/rclone.conf
timeout = 10m
[sink:local]
plugin = local
path = $T/local
[source:file]
plugin = command
command = cat $T/file.bin
extension = bin
[job:file]
source = file
sinks = dav
[job:tolocal]
source = file
sinks = local
[job:offsite]
copy_from = local
sinks = dav
INI
chmod 600 "$T/zb.ini"

bench_machine
rclone version | sed -n 1p
echo "file: $size in $T, rclone serve webdav on 127.0.0.1:$port, its files in $dav"

"$build/zentoria-backupctl" -q -c "$T/zb.ini" run tolocal >/dev/null
rcl() { rclone --config "$T/rclone.conf" "$@"; }
# timed CMD...: wall seconds in $secs, peak RSS kept in $rss (KiB)
timed() {
	local t0 t1 r_kb
	t0=$(bench_now)
	/usr/bin/time -v "$@" 2>"$T/time.txt" >/dev/null ||
	    { cat "$T/time.txt" >&2; exit 1; }
	t1=$(bench_now)
	secs=$(bench_sub "$t1" "$t0")
	r_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$T/time.txt")
	[ "$r_kb" -gt "$rss" ] && rss=$r_kb
	return 0
}

# requests_since OFFSET: the requests the server logged after byte OFFSET
# of its log (rclone's WebDAV backend spaces them at least 10 ms apart).
log_at() { stat -c %s "$T/serve.log"; }
requests_since() {
	tail -c +"$(($1 + 1))" "$T/serve.log" | grep -ac ' from 127\.0\.0\.1:' || true
}
best_base=999999; best_copy=999999; best_run=999999; best_floor=999999; rss=0
pair_copy=(); pair_floor=()
# settle: each timed step starts with no dirty page of the step before it
# (the server writes 1 GiB per step; its writeback would otherwise run
# during the next step and charge it to whichever comes after).
settle() { sync; sleep 0.5; }
for r in $(seq 1 "$rounds"); do
	settle
	o=$(log_at)
	t0=$(bench_now)
	rcl copyto "$T/file.bin" "dav:copyto/$r.bin"
	t1=$(bench_now)
	n_base=$(requests_since "$o")
	tb=$(bench_sub "$t1" "$t0")
	# The floor of a verified copy: copyto while the same bytes are
	# hashed once, as the copy job must (its SHA-256 check), by the
	# same library (coreutils' sha256sum has no SHA-NI code: three
	# times the CPU of OpenSSL's on such a CPU).
	settle
	t0=$(bench_now)
	rcl copyto "$T/file.bin" "dav:floor/$r.bin" &
	openssl dgst -sha256 "$T/file.bin" >/dev/null
	wait $!
	t1=$(bench_now)
	tf=$(bench_sub "$t1" "$t0")
	settle
	o=$(log_at)
	timed "$build/zentoria-backupctl" -q -c "$T/zb.ini" copy --from local --to dav
	tc=$secs
	n_copy=$(requests_since "$o")
	# Through the server, not behind its back (it caches directories).
	rcl purge dav:zb
	settle
	timed "$build/zentoria-backupctl" -q -c "$T/zb.ini" run file
	tr=$secs
	printf 'round %d: rclone copyto %.2f s, copyto + openssl dgst %.2f s, zentoria copy %.2f s, zentoria backup %.2f s\n' \
	    "$r" "$tb" "$tf" "$tc" "$tr"
	pair_copy+=("$(bench_ratio "$tc" "$tb")")
	pair_floor+=("$(bench_ratio "$tf" "$tb")")
	best_base=$(bench_min "$best_base" "$tb")
	best_floor=$(bench_min "$best_floor" "$tf")
	best_copy=$(bench_min "$best_copy" "$tc")
	best_run=$(bench_min "$best_run" "$tr")
	rcl purge dav:copyto
	rcl purge dav:floor
	rcl purge dav:zb
	sleep 1		# one second per stamp: runs must not share one
done
echo
echo "requests to the server in the last round: copyto $n_base, zentoria copy $n_copy"
printf '%-40s %10s\n' "rclone copyto $size (best)" "$best_base s"
printf '%-40s %10s\n' "zentoria copy local -> rclone (best)" "$best_copy s"
printf '%-40s %10s\n' "copyto + openssl dgst -sha256 (best)" "$best_floor s"
printf '%-40s %10s\n' "zentoria backup -> rclone (best)" "$best_run s"
echo
bench_row "copy / copyto, best of $rounds" "$(bench_ratio "$best_copy" "$best_base")" le 1.1
bench_row "copy / copyto, paired median" "$(bench_median "${pair_copy[@]}")" le 1.1 "(${pair_copy[*]})"
bench_info "(copyto + openssl dgst) / copyto, paired" "$(bench_median "${pair_floor[@]}")" \
    "(${pair_floor[*]}): the floor of a copy that hashes what it sends"
bench_info "copy / (copyto + openssl dgst), best" "$(bench_ratio "$best_copy" "$best_floor")"
bench_info "backup / copyto, best" "$(bench_ratio "$best_run" "$best_base")" \
    "(a stream of unknown size: spooled by rcat)"
bench_rss_row "peak RSS of zentoria-backupctl" "$rss" "$((budget_mb + 16))"
