#!/bin/bash
# s3.sh - the s3 sink against `aws s3 cp', measured in the same invocation
# (these machines are noisy), both uploading to s3rver on 127.0.0.1.
#
#   bench/s3.sh [SIZE]     default 1G
#
# ROUNDS times (default 3) in turn:
#   baseline:  aws s3 cp FILE s3://bench/aws/FILE   (awscli's multipart)
#   zentoria:  zentoria-backupctl run: the command source `cat FILE' to
#              one s3 sink (compression none, part_size 16M, max_uploads 4)
# Prints the best wall time of each, the ratio (target <= 1.1) and the
# peak RSS of zentoria-backupctl (GNU time) against max_buffer_mb +
# part_size x max_uploads + 16 MiB.
#
# Uses the build in $ZB_BUILD (default ./_build) and s3rver from
# scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
top=$PWD
size=${1:-1G}
rounds=${ROUNDS:-3}
build=${ZB_BUILD:-$PWD/_build}
budget_mb=${BUDGET_MB:-64}
part_mb=16
uploads=4
[ -x "$build/zentoria-backupctl" ] || { echo "no build in $build: configure and make there first" >&2; exit 1; }
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
T=$(mktemp -d /tmp/zbbench-s3.XXXXXX)
. tests/lib/s3rver.sh
trap 's3rver_stop; rm -rf "$T"' EXIT
s3rver_start bench >/dev/null

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
[sink:s3]
plugin = s3
endpoint = $S3R_URL
bucket = bench
prefix = zb
access_key_file = $T/s3r.ak
secret_key_file = $T/s3r.sk
part_size = ${part_mb}M
max_uploads = $uploads
[source:file]
plugin = command
command = cat $T/file.bin
extension = bin
[job:file]
source = file
sinks = s3
INI
chmod 600 "$T/zb.ini"

bench_machine
best_base=999999; best_zb=999999; rss=0
for r in $(seq 1 "$rounds"); do
	t0=$(now)
	s3r_aws s3 cp --only-show-errors "$T/file.bin" "s3://bench/aws/$r.bin"
	t1=$(now)
	tb=$(echo "$t1 - $t0" | bc)
	t0=$(now)
	/usr/bin/time -v "$build/zentoria-backupctl" -q -c "$T/zb.ini" run file \
	    2>"$T/time.txt" >/dev/null || { cat "$T/time.txt" >&2; exit 1; }
	t1=$(now)
	tz=$(echo "$t1 - $t0" | bc)
	r_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$T/time.txt")
	[ "$r_kb" -gt "$rss" ] && rss=$r_kb
	printf 'round %d: aws s3 cp %.2f s, zentoria %.2f s\n' "$r" "$tb" "$tz"
	best_base=$(min "$best_base" "$tb")
	best_zb=$(min "$best_zb" "$tz")
	rm -rf "$T/s3rver/bench/aws" "$T/s3rver/bench/zb"
	sleep 1		# one second per stamp: runs must not share one
done
echo
printf '%-34s %10s\n' "aws s3 cp $size (best)" "$best_base s"
printf '%-34s %10s\n' "zentoria to s3 (best)" "$best_zb s"
printf '%-34s %10s   (target <= 1.1)\n' "ratio" "$(ratio "$best_zb" "$best_base")"
printf '%-34s %10s MiB   (limit %d MiB)\n' "peak RSS of zentoria-backupctl" \
    "$(echo "scale=1; $rss / 1024" | bc)" \
    "$((budget_mb + part_mb * uploads + 16))"
