#!/bin/bash
# rclone.sh - the rclone sink against `rclone copyto' of the same file,
# measured in the same invocation (these machines are noisy), both to one
# `rclone serve webdav' on 127.0.0.1.
#
#   bench/rclone.sh [SIZE]     default 1G
#
# ROUNDS times (default 3) in turn:
#   baseline:  rclone copyto FILE dav:copyto/N.bin
#   zentoria:  zentoria-backupctl run: the command source `cat FILE' to one
#              rclone sink on the same remote (compression none: the bytes
#              rclone copyto moves), which also checks the size with lsjson
#              and moves the temporary into place
# Prints the CPU model and whether it has SHA-NI (our SHA-256 of the
# stream runs on it), the best wall time of each, the ratio (target
# <= 1.1) and the peak RSS of zentoria-backupctl (GNU time; rclone's own
# memory is in its process, as for copyto) against max_buffer_mb + 16 MiB.
#
# Uses the build in $ZB_BUILD (default ./_build) and /usr/bin/rclone.
set -euo pipefail
cd "$(dirname "$0")/.."
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
rclone serve webdav --addr "127.0.0.1:$port" --user zb --pass "$pass" \
    "$T/dav" >"$T/serve.log" 2>&1 &
SPID=$!
trap 'kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; rm -rf "$T"' EXIT
mkdir -p "$T/dav"
for i in $(seq 1 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done
(umask 077; printf '[dav]\ntype = webdav\nurl = http://127.0.0.1:%s\nvendor = other\nuser = zb\npass = %s\n' \
    "$port" "$(rclone obscure "$pass")" >"$T/rclone.conf")

mkdir -p "$T/plugins"
for so in "$build"/plugins/*/.libs/*.so; do ln -sf "$so" "$T/plugins/"; done
head -c "$(numfmt --from=iec "$size")" /dev/urandom >"$T/file.bin"
now() { date +%s.%N; }
ratio() { echo "scale=3; $1 / $2" | bc; }
min() { echo "if ($1 < $2) $1 else $2" | bc; }

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
[source:file]
plugin = command
command = cat $T/file.bin
extension = bin
[job:file]
source = file
sinks = dav
INI
chmod 600 "$T/zb.ini"

model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
grep -qw sha_ni /proc/cpuinfo && shani=yes || shani=no
echo "CPU: $model, $(nproc) CPUs, SHA-NI: $shani; $(rclone version | head -1)"
echo "file: $size in $T, rclone serve webdav on 127.0.0.1:$port"

best_base=999999; best_zb=999999; rss=0
for r in $(seq 1 "$rounds"); do
	t0=$(now)
	rclone --config "$T/rclone.conf" copyto "$T/file.bin" "dav:copyto/$r.bin"
	t1=$(now)
	tb=$(echo "$t1 - $t0" | bc)
	t0=$(now)
	/usr/bin/time -v "$build/zentoria-backupctl" -q -c "$T/zb.ini" run file \
	    2>"$T/time.txt" >/dev/null || { cat "$T/time.txt" >&2; exit 1; }
	t1=$(now)
	tz=$(echo "$t1 - $t0" | bc)
	r_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$T/time.txt")
	[ "$r_kb" -gt "$rss" ] && rss=$r_kb
	printf 'round %d: rclone copyto %.2f s, zentoria %.2f s\n' "$r" "$tb" "$tz"
	best_base=$(min "$best_base" "$tb")
	best_zb=$(min "$best_zb" "$tz")
	rm -rf "$T/dav/copyto" "$T/dav/zb"
	sleep 1		# one second per stamp: runs must not share one
done
echo
printf '%-34s %10s\n' "rclone copyto $size (best)" "$best_base s"
printf '%-34s %10s\n' "zentoria to rclone (best)" "$best_zb s"
printf '%-34s %10s   (target <= 1.1)\n' "ratio" "$(ratio "$best_zb" "$best_base")"
printf '%-34s %10s MiB   (limit %d MiB)\n' "peak RSS of zentoria-backupctl" \
    "$(echo "scale=1; $rss / 1024" | bc)" "$((budget_mb + 16))"
