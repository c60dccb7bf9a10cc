#!/bin/bash
# pg.sh - the postgresql source against pg_dump and pg_restore themselves,
# measured in the same invocation (these machines are noisy).
#
#   bench/pg.sh [SCALE]     pgbench scale (default 30)
#
# Environment: ROUNDS (default 3, best of), TEXT_ROWS (default 2000000),
# ZB_BUILD (default ./_build), BUDGET_MB (max_buffer_mb, default 64).
#
# Ours and the baselines run the same programs: $PG_BIN/pg_dump and
# pg_restore, named in the job's INI (from PATH, Debian's /usr/bin/pg_dump
# is pg_wrapper, a Perl script that costs ~70 ms per call before the real
# program starts; the baselines never paid it).
#
# Starts a throwaway PostgreSQL 15 (tests/lib/pg.sh) and s3rver (npm,
# tests/lib/s3rver.sh), fills a TEXT-HEAVY database: `pgbench -i -s SCALE'
# plus a table of TEXT_ROWS rows of md5 text (pgbench's filler alone
# compresses to nothing and hides the cost).  Then ROUNDS times, in turn:
#   baseline   pg_dump -Fc -Z0 db > file; sync file
#   reference  pg_dump -Fc -Z0 db | zstd -3 -T2 > file; sync file (what a
#              shell user would do; printed, no target)
#   zentoria   `zentoria-backupctl run' of a postgresql job (databases =
#              bench, no globals) to TWO local sinks, both fsync'd:
#              zstd:3, workers = auto                       target <= 1.25
#              zstd:3 + age, workers = auto                 target <= 1.30
#              zstd:3, workers = 0 (every stage on the loop: the pool's
#              effect)
# then once: `pg_dump -Fc' (default gzip) for the size of its file, which
# our stored copy must not exceed; peak RSS of zentoria-backupctl (GNU
# time) <= 64 MiB.  Restore, ROUNDS times in turn, each into a NEW
# database:
#   baseline   createdb -T template0 new; pg_restore -d new (the -Z0 file)
#   zentoria   restore ID --sink local --to new             target <= 1.10
#              restore ID --sink s3 --to new (s3rver)       target <= 1.10
# Prints PASS or MISS per target, for the best of ROUNDS (ours and the
# baseline each at their best) and for the median of the rounds' own
# ratios (each run against the baseline of its round: steadier when the
# machine's speed drifts, as farm-style paired timing is).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
scale=${1:-30}
rounds=${ROUNDS:-3}
text_rows=${TEXT_ROWS:-2000000}
build=${ZB_BUILD:-$PWD/_build}
budget_mb=${BUDGET_MB:-64}
rss_limit=64
[ -x "$build/zentoria-backupctl" ] || { echo "no build in $build: configure and make there first" >&2; exit 1; }
for t in /usr/bin/time bc zstd; do
	command -v "$t" >/dev/null || { echo "pg.sh needs $t" >&2; exit 1; }
done
export ZB_SRCDIR=$PWD
. tests/lib/pg.sh

# s3rver's data lives in $T; its helper exits 77 without s3rver or awscli.
T=$(mktemp -d /tmp/zbbench-s3.XXXXXX)
stop_all() {
	[ -z "${S3R_PID:-}" ] || s3rver_stop
	rm -rf "$T"
}
trap stop_all EXIT
. tests/lib/s3rver.sh

set +u
pg_start >/dev/null
set -u
dir=$PG_TMP/bench
mkdir -p "$dir/plugins"
for so in "$build"/plugins/*/.libs/*.so; do ln -sf "$so" "$dir/plugins/"; done
s3rver_start bench >/dev/null
# No autovacuum on the throwaway server: after each restore it would
# analyze the new database's 5 M rows while the next restore is timed.
pg_psql -c "ALTER SYSTEM SET autovacuum = off" >/dev/null
pg_psql -c "SELECT pg_reload_conf()" >/dev/null

bench_machine
pgc=(-w -h 127.0.0.1 -p "$PGPORT" -U postgres)

echo "filling database bench: pgbench -i -s $scale + $text_rows rows of md5 text ..."
"$PG_BIN/createdb" "${pgc[@]}" bench
"$PG_BIN/pgbench" -i -s "$scale" -q -h 127.0.0.1 -p "$PGPORT" -U postgres bench >/dev/null 2>&1
pg_psql -d bench -c "CREATE TABLE txt AS SELECT i, md5(i::text) ||
    md5((i * 7)::text) AS t FROM generate_series(1, $text_rows) i"
# Set every row's hint bits and the visibility map now, so that the
# first round does not pay for them.
pg_psql -d bench -c "VACUUM (FREEZE, ANALYZE)" >/dev/null
echo "database size: $(pg_psql -Atc \
    "SELECT pg_size_pretty(pg_database_size('bench'))"), $rounds rounds"

"$build/zentoria-backupctl" keygen -o "$dir/bench.key" 2>/dev/null
sed -n 's/^# public key: //p' "$dir/bench.key" >"$dir/recipients"

write_ini() {	# name compression encryption(none|age) workers sinks
	local f=$dir/$1.ini
	cat >"$f" <<INI
[daemon]
plugin_dir = $dir/plugins
state_dir = $dir/$1/state
compression = $2
workers = $4
max_buffer_mb = $budget_mb
INI
	[ "$3" = age ] && cat >>"$f" <<INI
encryption = age
age_recipients_file = $dir/recipients
INI
	cat >>"$f" <<INI
[sink:a]
plugin = local
path = $dir/$1/a
[sink:b]
plugin = local
path = $dir/$1/b
[sink:s3]
plugin = s3
endpoint = $S3R_URL
bucket = bench
prefix = $1
access_key_file = $T/s3r.ak
secret_key_file = $T/s3r.sk
[source:pg]
plugin = postgresql
conninfo = host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres
password_file = $PG_PASSWORD_FILE
databases = bench
globals = no
pg_dump = $PG_BIN/pg_dump
pg_restore = $PG_BIN/pg_restore
[job:pg]
source = pg
sinks = $5
INI
	chmod 600 "$f"
}

Z() {	# ini-name args...
	local n=$1
	shift
	env -u PGHOST -u PGUSER -u PGPASSFILE -u PGPORT \
	    "$build/zentoria-backupctl" -q -c "$dir/$n.ini" "$@"
}

timed() {	# command...: prints its wall time (its stdout dropped)
	local t0 t1
	sync
	t0=$(bench_now)
	"$@" >/dev/null
	t1=$(bench_now)
	bench_sub "$t1" "$t0"
}

ours() {	# ini-name: one backup run; its time; peak RSS (KiB) in $dir/rss
	rm -rf "${dir:?}/$1/a" "$dir/$1/b" "$dir/$1/state"
	timed env -u PGHOST -u PGUSER -u PGPASSFILE -u PGPORT \
	    /usr/bin/time -f '%M' -o "$dir/rss" \
	    "$build/zentoria-backupctl" -q -c "$dir/$1.ini" run pg
}

base_dump() {	# file [pg_dump options]
	local f=$1
	shift
	"$PG_BIN/pg_dump" -Fc "$@" "${pgc[@]}" bench >"$f" && sync "$f"
}

shell_pipe() {	# file: what a shell user would do (issue 13's table)
	"$PG_BIN/pg_dump" -Fc -Z0 "${pgc[@]}" bench | zstd -q -3 -T2 >"$1" &&
	    sync "$1"
}

write_ini zstd zstd:3 none auto "a, b"
write_ini age zstd:3 age auto "a, b"
write_ini zero zstd:3 none 0 "a, b"
write_ini tiers zstd:3 none auto "a, s3"

# ---- backup ----------------------------------------------------------------
bb=999999; bz=999999; ba=999999; b0=999999; bp=999999; rss=0
pz=(); pa=(); pl=(); ps=()	# each round's own ratios
for r in $(seq 1 "$rounds"); do
	rm -f "$dir/base0.dump" "$dir/pipe.zst"
	tb=$(timed base_dump "$dir/base0.dump" -Z0)
	tp=$(timed shell_pipe "$dir/pipe.zst")
	tz=$(ours zstd)
	k=$(cat "$dir/rss"); [ "$k" -gt "$rss" ] && rss=$k
	ta=$(ours age)
	k=$(cat "$dir/rss"); [ "$k" -gt "$rss" ] && rss=$k
	t0=$(ours zero)
	printf '  backup round %d: pg_dump -Fc -Z0 %6.2f s, | zstd -3 -T2 %6.2f s, zstd:3 %6.2f s, zstd:3+age %6.2f s, zstd:3 workers=0 %6.2f s\n' \
	    "$r" "$tb" "$tp" "$tz" "$ta" "$t0"
	pz+=("$(bench_ratio "$tz" "$tb")"); pa+=("$(bench_ratio "$ta" "$tb")")
	bb=$(bench_min "$bb" "$tb"); bz=$(bench_min "$bz" "$tz"); bp=$(bench_min "$bp" "$tp")
	ba=$(bench_min "$ba" "$ta"); b0=$(bench_min "$b0" "$t0")
done
tg=$(timed base_dump "$dir/gzip.dump")
printf '  pg_dump -Fc (default gzip), once: %.2f s\n' "$tg"
ours_size=$(find "$dir/zstd/a" -type f -name 'data*' ! -name '*.sha256' \
    -printf '%s\n' | sort -n | tail -1)
gzip_size=$(stat -c %s "$dir/gzip.dump")

# ---- restore ---------------------------------------------------------------
ttiers=$(ours tiers)
printf '  backup to a local sink and s3rver, once: %.2f s\n' "$ttiers"
Z tiers list --json >"$dir/list.json"
id=$(grep -o '"pg/bench@[^"]*"' "$dir/list.json" | tail -1 | tr -d '"')
[ -n "$id" ] || { echo "no artifact pg/bench in: $(cat "$dir/list.json")" >&2; exit 1; }
rb=999999; rl=999999; rs=999999
restore_base() {	# db: created as our restore creates it, from template0
	"$PG_BIN/createdb" "${pgc[@]}" -T template0 "$1" &&
	    "$PG_BIN/pg_restore" "${pgc[@]}" -d "$1" "$dir/base0.dump"
}
dropdbs() {
	local d
	for d in "$@"; do
		"$PG_BIN/dropdb" "${pgc[@]}" --if-exists "$d"
	done
}
# Each restore starts after a CHECKPOINT (and timed's sync), and the
# three take turns at going first: a restore leaves dirty buffers and WAL
# that would otherwise slow whichever runs next.
restore_one() {	# b|l|s round: sets tb, tl or ts
	pg_psql -c CHECKPOINT >/dev/null
	case $1 in
	b) tb=$(timed restore_base "rb$2") ;;
	l) tl=$(timed Z tiers restore "$id" --sink a --to "rl$2") ;;
	s) ts=$(timed Z tiers restore "$id" --sink s3 --to "rs$2") ;;
	esac
}
for r in $(seq 1 "$rounds"); do
	case $((r % 3)) in
	1) order="b l s" ;;
	2) order="l s b" ;;
	0) order="s b l" ;;
	esac
	for w in $order; do
		restore_one "$w" "$r"
	done
	printf '  restore round %d: createdb + pg_restore -d %6.2f s, local tier %6.2f s, s3 tier %6.2f s\n' \
	    "$r" "$tb" "$tl" "$ts"
	if [ "$r" = 1 ]; then	# the restored copies hold the data
		for d in rb1 rl1 rs1; do
			n=$(pg_psql -d "$d" -Atc 'SELECT count(*) FROM txt')
			[ "$n" = "$text_rows" ] || { echo "restore into $d: txt has $n rows, not $text_rows" >&2; exit 1; }
		done
	fi
	dropdbs "rb$r" "rl$r" "rs$r"
	pl+=("$(bench_ratio "$tl" "$tb")"); ps+=("$(bench_ratio "$ts" "$tb")")
	rb=$(bench_min "$rb" "$tb"); rl=$(bench_min "$rl" "$tl")
	rs=$(bench_min "$rs" "$ts")
done

echo
printf 'results (best of %d): pg_dump -Fc -Z0 %.2f s; zstd:3 %.2f s, zstd:3+age %.2f s, workers=0 %.2f s\n' \
    "$rounds" "$bb" "$bz" "$ba" "$b0"
bench_row "backup zstd:3, 2 local sinks" "$(bench_ratio "$bz" "$bb")" le 1.25
bench_row "backup zstd:3 + age, 2 local sinks" "$(bench_ratio "$ba" "$bb")" le 1.30
bench_info "backup zstd:3, workers=0 (all on the loop)" \
    "$(bench_ratio "$b0" "$bb")" \
    "(workers=0 / workers=auto: $(bench_ratio "$b0" "$bz"))"
bench_info "pg_dump -Fc -Z0 | zstd -3 -T2 / pg_dump -Z0" "$(bench_ratio "$bp" "$bb")" \
    "(a shell pipeline, for comparison; ours / it: $(bench_ratio "$bz" "$bp"))"
bench_info "pg_dump -Fc (gzip) / pg_dump -Fc -Z0" "$(bench_ratio "$tg" "$bb")" \
    "(one run, for comparison)"
echo "stored size: ours (zstd:3) $ours_size bytes, pg_dump -Fc (gzip) $gzip_size bytes"
bench_row "stored size / pg_dump -Fc's file" \
    "$(bench_ratio "$ours_size" "$gzip_size")" le 1
bench_rss_row "peak RSS of zentoria-backupctl run" "$rss" "$rss_limit"
printf 'restore (best of %d): createdb + pg_restore -d %.2f s; local %.2f s, s3 %.2f s\n' \
    "$rounds" "$rb" "$rl" "$rs"
bench_row "restore --to newdb, local tier" "$(bench_ratio "$rl" "$rb")" le 1.10
bench_row "restore --to newdb, S3 tier (s3rver)" "$(bench_ratio "$rs" "$rb")" le 1.10
echo
echo "paired (the median of the $rounds rounds' own ratios, each run against its round's baseline):"
bench_row "backup zstd:3, 2 local sinks" "$(bench_median "${pz[@]}")" le 1.25 \
    "(${pz[*]})"
bench_row "backup zstd:3 + age, 2 local sinks" "$(bench_median "${pa[@]}")" le 1.30 \
    "(${pa[*]})"
bench_row "restore --to newdb, local tier" "$(bench_median "${pl[@]}")" le 1.10 \
    "(${pl[*]})"
bench_row "restore --to newdb, S3 tier (s3rver)" "$(bench_median "${ps[@]}")" le 1.10 \
    "(${ps[*]})"
