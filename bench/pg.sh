#!/bin/bash
# pg.sh - the postgresql source against pg_dump itself, measured in the
# same invocation (these machines are noisy).
#
#   bench/pg.sh [SCALE]     pgbench scale (default 30: about 450 MB)
#
# Starts a throwaway PostgreSQL 15 (tests/lib/pg.sh), fills a database
# with `pgbench -i -s SCALE', then, ROUNDS times (default 3) in turn:
#   baseline:  pg_dump -Fc db > file; sync file
#   zentoria:  zentoria-backupctl run of a job with the postgresql source
#              (databases = bench, no globals) to TWO local sinks at once,
#              zstd:3, pg_dump -Z0 (the job compresses), both fsync'd.
# Prints the best wall time of each, their ratio (target <= 1.05), the
# stored size of our copy against pg_dump's own -Fc file (target: no
# larger), and the peak RSS of zentoria-backupctl (GNU time's maximum
# resident set size) against max_buffer_mb + 16 MiB.
#
# Uses the build in $ZB_BUILD (default ./_build).
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-30}
rounds=${ROUNDS:-3}
build=${ZB_BUILD:-$PWD/_build}
budget_mb=${BUDGET_MB:-64}
[ -x "$build/zentoria-backupctl" ] || { echo "no build in $build: configure and make there first" >&2; exit 1; }
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
export ZB_SRCDIR=$PWD
. tests/lib/pg.sh
set +u
pg_start >/dev/null
set -u
dir=$PG_TMP/bench
mkdir -p "$dir/plugins"
for so in "$build"/plugins/*/.libs/*.so; do ln -sf "$so" "$dir/plugins/"; done

now() { date +%s.%N; }
ratio() { echo "scale=3; $1 / $2" | bc; }
min() { echo "if ($1 < $2) $1 else $2" | bc; }

echo "filling database bench: pgbench -i -s $scale ..."
"$PG_BIN/createdb" -w -h 127.0.0.1 -p "$PGPORT" -U postgres bench
"$PG_BIN/pgbench" -i -s "$scale" -q -h 127.0.0.1 -p "$PGPORT" -U postgres \
    bench >/dev/null 2>&1
dbsize=$(pg_psql -Atc "SELECT pg_size_pretty(pg_database_size('bench'))")
echo "database size: $dbsize"

cat >"$dir/zb.ini" <<INI
[daemon]
plugin_dir = $dir/plugins
state_dir = $dir/state
compression = zstd:3
max_buffer_mb = $budget_mb
[sink:a]
plugin = local
path = $dir/a
[sink:b]
plugin = local
path = $dir/b
[source:pg]
plugin = postgresql
conninfo = host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres
password_file = $PG_PASSWORD_FILE
databases = bench
globals = no
[job:pg]
source = pg
sinks = a, b
INI
chmod 600 "$dir/zb.ini"

best_base=999999; best_zb=999999; rss=0
for r in $(seq 1 "$rounds"); do
	rm -rf "$dir/a" "$dir/b" "$dir/base.dump"
	sync
	t0=$(now)
	"$PG_BIN/pg_dump" -Fc -w -h 127.0.0.1 -p "$PGPORT" -U postgres bench \
	    >"$dir/base.dump"
	sync "$dir/base.dump"
	t1=$(now)
	tb=$(echo "$t1 - $t0" | bc)
	sync
	t0=$(now)
	env -u PGHOST -u PGUSER -u PGPASSFILE -u PGPORT /usr/bin/time -v \
	    "$build/zentoria-backupctl" -q -c "$dir/zb.ini" run pg \
	    2>"$dir/time.txt" >/dev/null || { cat "$dir/time.txt" >&2; exit 1; }
	t1=$(now)
	tz=$(echo "$t1 - $t0" | bc)
	r_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/time.txt")
	[ "$r_kb" -gt "$rss" ] && rss=$r_kb
	printf 'round %d: pg_dump -Fc %.2f s, zentoria (2 sinks) %.2f s\n' \
	    "$r" "$tb" "$tz"
	best_base=$(min "$best_base" "$tb")
	best_zb=$(min "$best_zb" "$tz")
done
ours=$(find "$dir/a" -name 'data.*' ! -name '*.sha256' -printf '%s\n' | head -1)
theirs=$(stat -c %s "$dir/base.dump")
echo
printf '%-34s %10s\n' "pg_dump -Fc > file (best)" "$best_base s"
printf '%-34s %10s\n' "zentoria, 2 local sinks (best)" "$best_zb s"
printf '%-34s %10s   (target <= 1.05)\n' "ratio" "$(ratio "$best_zb" "$best_base")"
printf '%-34s %10s bytes\n' "pg_dump -Fc file" "$theirs"
printf '%-34s %10s bytes   (ratio %s, target <= 1)\n' "zentoria stored copy" \
    "$ours" "$(ratio "$ours" "$theirs")"
printf '%-34s %10s MiB   (limit %d MiB)\n' "peak RSS of zentoria-backupctl" \
    "$(echo "scale=1; $rss / 1024" | bc)" "$((budget_mb + 16))"
pg_cleanup
