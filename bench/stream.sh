#!/bin/bash
# stream.sh - streaming throughput and memory of the core, against
# baselines measured in the same invocation (these machines are noisy).
#
#   bench/stream.sh [SIZE]        SIZE in bytes or with K/M/G (default 4G)
#
# Case 1: the command source (`head -c SIZE /dev/zero`) to one local sink,
#         compression off, against `head -c SIZE /dev/zero > file; sync file`.
# Case 2: the same with zstd:3, against `head -c SIZE /dev/zero | zstd -3
#         > file; sync file`.
# Our local sink fsyncs each object before renaming it, so the baselines
# fsync their file too.  Prints wall times, their ratio, and the peak RSS
# of zentoria-backupctl (GNU time's maximum resident set size).
# Targets (issue #2): RSS <= 64 MiB whatever SIZE; ratio <= 1.2
# uncompressed, <= 1.1 against the zstd CLI.  Case 3 (when age(1) is
# installed): zstd:3 + age encryption against `zstd -3 | age -r`; run
# with two sizes to see that peak RSS does not grow with the stream.
#
# Uses the build in $ZB_BUILD (default ./_build, made by `../configure &&
# make` there); data goes to $BENCH_DIR (default a directory under /tmp,
# removed afterwards; needs room for SIZE).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-4G}
build=${ZB_BUILD:-$PWD/_build}
dir=${BENCH_DIR:-$(mktemp -d /tmp/zbbench.XXXXXX)}
trap 'rm -rf "$dir"' EXIT
[ -x "$build/zentoria-backupctl" ] || { echo "no build in $build: configure and make there first" >&2; exit 1; }
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
command -v zstd >/dev/null || apt-get install -y -qq zstd >/dev/null
bytes=$(numfmt --from=iec "$size")

mkdir -p "$dir/plugins"
for so in "$build"/plugins/*/.libs/*.so; do ln -sf "$so" "$dir/plugins/"; done

now() { date +%s.%N; }
ratio() { echo "scale=3; $1 / $2" | bc; }

run_case() {	# name compression baseline-command [extra daemon lines]
	local name=$1 comp=$2 base=$3 extra=${4:-} t0 t1 tb tz rss
	rm -rf "$dir/store" "$dir/base.out"
	cat >"$dir/zb.ini" <<INI
[daemon]
plugin_dir = $dir/plugins
state_dir = $dir/state
compression = $comp
max_buffer_mb = 32
$extra
[sink:disk]
plugin = local
path = $dir/store
[source:zero]
plugin = command
command = head -c $bytes /dev/zero
[job:zero]
source = zero
sinks = disk
INI
	sync
	t0=$(now)
	sh -c "$base"
	t1=$(now)
	tb=$(echo "$t1 - $t0" | bc)
	rm -f "$dir/base.out"
	sync
	t0=$(now)
	/usr/bin/time -f '%M' -o "$dir/rss" "$build/zentoria-backupctl" -q \
	    -c "$dir/zb.ini" run zero >/dev/null
	t1=$(now)
	tz=$(echo "$t1 - $t0" | bc)
	rss=$(cat "$dir/rss")
	printf '%-14s baseline %7.2f s   zentoria %7.2f s   ratio %s   peak RSS %d KiB (%d MiB)\n' \
	    "$name" "$tb" "$tz" "$(ratio "$tz" "$tb")" "$rss" $((rss / 1024))
}

echo "stream size: $size ($bytes bytes), $(nproc) CPUs, data in $dir"
run_case "uncompressed" none "head -c $bytes /dev/zero > $dir/base.out && sync $dir/base.out"
run_case "zstd:3" zstd:3 "head -c $bytes /dev/zero | zstd -3 -q > $dir/base.out && sync $dir/base.out"
if command -v age >/dev/null; then
	"$build/zentoria-backupctl" keygen -o "$dir/bench.key" 2>/dev/null
	rec=$(sed -n 's/^# public key: //p' "$dir/bench.key")
	echo "$rec" >"$dir/recipients"
	run_case "zstd:3 + age" zstd:3 \
	    "head -c $bytes /dev/zero | zstd -3 -q | age -r $rec > $dir/base.out && sync $dir/base.out" \
	    "encryption = age
age_recipients_file = $dir/recipients"
fi
