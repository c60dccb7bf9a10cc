# common.sh - helpers for the benchmarks (sourced, bash).
#
#   bench_machine              what the numbers depend on: CPU model, CPUs,
#                              SHA-NI, `openssl speed -evp sha256` (16 KiB)
#   bench_now                  wall clock, seconds with nanoseconds
#   bench_sub A B / bench_ratio A B / bench_min A B / bench_max A B
#   bench_median X...         the median of the numbers given
#   bench_verdict RATIO le|ge TARGET
#                              prints PASS or MISS
#   bench_row NAME RATIO le|ge TARGET [NOTE]
#                              one result line with its verdict
#   bench_rss_row NAME KIB LIMIT_MIB
#
# The machines these run on are noisy: every script measures its baseline
# in the same invocation, in turn with our run, and keeps the best of
# ROUNDS; the ratios are what counts, not the seconds.  pg.sh also gives
# the median of the rounds' own ratios (each run against the baseline of
# its round), which a lucky or unlucky run cannot move.

bench_now() { date +%s.%N; }
bench_sub() { echo "$1 - $2" | bc; }
bench_ratio() { printf '%.3f' "$(echo "scale=6; $1 / $2" | bc)"; }
bench_min() { echo "if ($1 < $2) $1 else $2" | bc; }
bench_max() { echo "if ($1 > $2) $1 else $2" | bc; }

bench_median() {	# numbers...: their median (the mean of the middle two)
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
	    END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2];
		else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

bench_verdict() {	# ratio le|ge target
	local ok
	if [ "$2" = le ]; then
		ok=$(echo "$1 <= $3" | bc)
	else
		ok=$(echo "$1 >= $3" | bc)
	fi
	[ "$ok" = 1 ] && echo PASS || echo MISS
}

bench_row() {	# name ratio le|ge target [note]
	local op='<='
	[ "$3" = ge ] && op='>='
	printf '%-44s ratio %6s  target %s %-5s %s %s\n' "$1" "$2" "$op" "$4" \
	    "$(bench_verdict "$2" "$3" "$4")" "${5:-}"
}

bench_info() {	# name ratio [note]: a ratio without a target
	printf '%-44s ratio %6s  %s\n' "$1" "$2" "${3:-}"
}

bench_rss_row() {	# name kib limit_mib
	local v=MISS
	[ "$2" -le $(($3 * 1024)) ] && v=PASS
	printf '%-44s %6d KiB (%d MiB)  target <= %d MiB  %s\n' "$1" "$2" \
	    $(($2 / 1024)) "$3" "$v"
}

bench_machine() {
	local model cpus shani sha
	model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	cpus=$(nproc)
	if grep -qw sha_ni /proc/cpuinfo; then shani=yes; else shani=no; fi
	sha=$(openssl speed -elapsed -evp sha256 -bytes 16384 -seconds 2 2>/dev/null |
	    awk '/^sha256/ { v = $NF; sub(/k$/, "", v);
		printf "%.0f", v * 1000 / 1e6 }')
	echo "machine: ${model:-unknown CPU}, $cpus CPUs (nproc), SHA-NI: $shani"
	echo "openssl speed -evp sha256 (16 KiB blocks): ${sha:-?} MB/s"
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), load average:" \
	    "$(cut -d' ' -f1-3 /proc/loadavg)"
}
