#!/bin/bash
# stream.sh - streaming throughput and memory of the core, against
# baselines measured in the same invocation (these machines are noisy).
#
#   bench/stream.sh [SIZE]        SIZE in bytes or with K/M/G (default 4G)
#
# The command source (`head -c SIZE /dev/zero`) to one local sink, which
# fsyncs each object, so every baseline fsyncs its file too.  Each case
# runs ROUNDS times (default 3), baseline and ours in turn, best of each:
#   uncompressed  against the SLOWER of `head -c SIZE /dev/zero > file;
#                 sync file` and one `openssl dgst -sha256` pass over the
#                 same bytes (write and hash overlapped is the physical
#                 limit on 2 CPUs)                      target <= 1.15
#   zstd:3        against `head | zstd -3 -T0 > file; sync file`  <= 1.1
#   zstd:3 + age  against `head | zstd -3 -T0 | age -r R > file; sync`
#                 (no target in issue 13: printed for comparison)
# each with `workers = auto' (the targets) and `workers = 0' (every stage
# on the loop thread), so that the effect of the pool shows; and the peak
# RSS of zentoria-backupctl (GNU time) against 64 MiB, whatever SIZE.
#
# Uses the build in $ZB_BUILD (default ./_build, made by `../configure &&
# make` there); data goes to $BENCH_DIR (default a directory under /tmp,
# removed afterwards; needs room for SIZE).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
size=${1:-4G}
rounds=${ROUNDS:-3}
build=${ZB_BUILD:-$PWD/_build}
[ -x "$build/zentoria-backupctl" ] || { echo "no build in $build: configure and make there first" >&2; exit 1; }
for t in /usr/bin/time zstd age openssl bc; do
	command -v "$t" >/dev/null || { echo "stream.sh needs $t" >&2; exit 1; }
done
dir=${BENCH_DIR:-$(mktemp -d /tmp/zbbench.XXXXXX)}
trap 'rm -rf "$dir"' EXIT
bytes=$(numfmt --from=iec "$size")
rss_limit=64

mkdir -p "$dir/plugins"
for so in "$build"/plugins/*/.libs/*.so; do ln -sf "$so" "$dir/plugins/"; done
"$build/zentoria-backupctl" keygen -o "$dir/bench.key" 2>/dev/null
rec=$(sed -n 's/^# public key: //p' "$dir/bench.key")
echo "$rec" >"$dir/recipients"

write_ini() {	# file compression workers encryption(none|age)
	cat >"$1" <<INI
[daemon]
plugin_dir = $dir/plugins
state_dir = $dir/state
compression = $2
workers = $3
max_buffer_mb = 32
INI
	[ "$4" = age ] && cat >>"$1" <<INI
encryption = age
age_recipients_file = $dir/recipients
INI
	cat >>"$1" <<INI
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
}

timed() {	# command...: prints its wall time (the command's stdout dropped)
	local t0 t1
	sync
	t0=$(bench_now)
	"$@" >/dev/null
	t1=$(bench_now)
	bench_sub "$t1" "$t0"
}

ours() {	# ini: one run, prints its wall time; peak RSS (KiB) to $dir/rss
	rm -rf "$dir/store" "$dir/state"
	timed /usr/bin/time -f '%M' -o "$dir/rss" \
	    "$build/zentoria-backupctl" -q -c "$1" run zero
}

# run_case NAME COMPRESSION ENCRYPTION TARGET BASELINE [BASELINE2]
# A BASELINE is a shell command writing $dir/base.out; with two, each round
# keeps the slower of them.  TARGET is a ratio, or - for none.
run_case() {
	local name=$1 comp=$2 enc=$3 target=$4 base=$5 base2=${6:-} r tb tb2
	local ta t0 rss best_base=999999 best_auto=999999 best_zero=999999
	local rss_max=0 note=
	write_ini "$dir/auto.ini" "$comp" auto "$enc"
	write_ini "$dir/zero.ini" "$comp" 0 "$enc"
	for r in $(seq 1 "$rounds"); do
		rm -f "$dir/base.out"
		tb=$(timed sh -c "$base")
		rm -f "$dir/base.out"
		if [ -n "$base2" ]; then
			tb2=$(timed sh -c "$base2")
			note=$(printf ' (write+fsync %.2f s, sha256 %.2f s)' "$tb" "$tb2")
			tb=$(bench_max "$tb" "$tb2")
		fi
		ta=$(ours "$dir/auto.ini")
		rss=$(cat "$dir/rss")
		[ "$rss" -gt "$rss_max" ] && rss_max=$rss
		t0=$(ours "$dir/zero.ini")
		printf '  %-14s round %d: baseline %6.2f s%s, workers=auto %6.2f s, workers=0 %6.2f s\n' \
		    "$name" "$r" "$tb" "$note" "$ta" "$t0"
		best_base=$(bench_min "$best_base" "$tb")
		best_auto=$(bench_min "$best_auto" "$ta")
		best_zero=$(bench_min "$best_zero" "$t0")
	done
	results+=("$(
	    printf '%s: baseline %.2f s, workers=auto %.2f s, workers=0 %.2f s (best of %d)\n' \
		"$name" "$best_base" "$best_auto" "$best_zero" "$rounds"
	    if [ "$target" = - ]; then
		bench_info "  $name, workers=auto" \
		    "$(bench_ratio "$best_auto" "$best_base")" "(no target)"
	    else
		bench_row "  $name, workers=auto" \
		    "$(bench_ratio "$best_auto" "$best_base")" le "$target"
	    fi
	    bench_info "  $name, workers=0 (all on the loop)" \
		"$(bench_ratio "$best_zero" "$best_base")" \
		"(workers=0 / workers=auto: $(bench_ratio "$best_zero" "$best_auto"))"
	    bench_rss_row "  $name, peak RSS (workers=auto)" "$rss_max" "$rss_limit"
	)")
}

bench_machine
echo "stream size: $size ($bytes bytes), $rounds rounds, data in $dir"
results=()

run_case "uncompressed" none none 1.15 \
    "head -c $bytes /dev/zero >$dir/base.out && sync $dir/base.out" \
    "head -c $bytes /dev/zero | openssl dgst -sha256"
run_case "zstd:3" zstd:3 none 1.1 \
    "head -c $bytes /dev/zero | zstd -3 -T0 -q >$dir/base.out && sync $dir/base.out"
run_case "zstd:3 + age" zstd:3 age - \
    "head -c $bytes /dev/zero | zstd -3 -T0 -q | age -r $rec >$dir/base.out && sync $dir/base.out"

echo
echo "results (uncompressed: per round the slower of write+fsync and one sha256 pass):"
printf '%s\n' "${results[@]}"
