#!/bin/bash
# redis.sh - the redis source against `redis-cli --rdb', same machine, same
# server, measured in the same invocation (these machines are noisy).
#
#   bench/redis.sh [KEYS]          KEYS to load (default 1000000)
#
# Loads KEYS keys of 100 bytes (DEBUG POPULATE) into a throwaway
# redis-server on 127.0.0.1, then times `redis-cli --rdb FILE; sync FILE'
# against `zentoria-backupctl run' of a redis job to one local sink (which
# fsyncs), with compression none and zstd:3, disk-based and diskless sync.
# Prints wall times, the ratio (target <= 1.05 uncompressed) and the peak
# RSS of zentoria-backupctl (GNU time) against max_buffer + 16 MiB.
#
# Uses the build in $ZB_BUILD (default ./_build); data goes to $BENCH_DIR
# (default a directory under /tmp, removed afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
nkeys=${1:-1000000}
build=${ZB_BUILD:-$PWD/_build}
dir=${BENCH_DIR:-$(mktemp -d /tmp/zbbench.XXXXXX)}
max_buffer_mb=32
[ -x "$build/zentoria-backupctl" ] || { echo "no build in $build: configure and make there first" >&2; exit 1; }
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
REDIS_NO_TRAP=1
ZB_SRCDIR=$PWD
. tests/lib/redis.sh
trap 'redis_cleanup; rm -rf "$dir"' EXIT

mkdir -p "$dir/plugins"
for so in "$build"/plugins/*/.libs/*.so; do ln -sf "$so" "$dir/plugins/"; done

now() { date +%s.%N; }
ratio() { echo "scale=3; $1 / $2" | bc; }

# base PORT: seconds for redis-cli --rdb plus sync of the file
base() {
	local t0 t1
	rm -f "$dir/base.rdb"
	sync
	t0=$(now)
	redis-cli -h 127.0.0.1 -p "$1" --rdb "$dir/base.rdb" >/dev/null 2>&1
	sync "$dir/base.rdb"
	t1=$(now)
	rm -f "$dir/base.rdb"
	echo "$t1 - $t0" | bc
}

# ours: seconds for zentoria-backupctl run r; peak RSS (KiB) to $dir/rss
ours() {
	local t0 t1
	rm -rf "$dir/store"
	sync
	t0=$(now)
	/usr/bin/time -v -o "$dir/time" "$build/zentoria-backupctl" -q \
	    -c "$dir/zb.ini" run r >/dev/null
	t1=$(now)
	sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/time" \
	    >>"$dir/rss"
	echo "$t1 - $t0" | bc
}

min() { if [ "$(echo "$1 < $2" | bc)" = 1 ]; then echo "$1"; else echo "$2"; fi; }

run_case() {	# name compression port: best of two runs each, interleaved
	local name=$1 comp=$2 port=$3 tb tz rss
	cat >"$dir/zb.ini" <<INI
[daemon]
plugin_dir = $dir/plugins
state_dir = $dir/state
compression = $comp
max_buffer_mb = $max_buffer_mb
[sink:disk]
plugin = local
path = $dir/store
[source:r]
plugin = redis
address = 127.0.0.1:$port
[job:r]
source = r
sinks = disk
INI
	chmod 600 "$dir/zb.ini"
	: >"$dir/rss"
	tb=$(base "$port")
	tz=$(ours)
	tz=$(min "$tz" "$(ours)")
	tb=$(min "$tb" "$(base "$port")")
	rss=$(sort -n "$dir/rss" | tail -1)
	printf '%-22s redis-cli %6.2f s   zentoria %6.2f s   ratio %s   peak RSS %d MiB (limit %d MiB)\n' \
	    "$name" "$tb" "$tz" "$(ratio "$tz" "$tb")" $((rss / 1024)) \
	    $((max_buffer_mb + 16))
}

bench_machine
redis_start --diskless no
p1=$REDIS_PORT
redis_cli "$p1" DEBUG POPULATE "$nkeys" key 100 >/dev/null
redis_start --diskless yes
p2=$REDIS_PORT
redis_cli "$p2" DEBUG POPULATE "$nkeys" key 100 >/dev/null
redis-cli -h 127.0.0.1 -p "$p1" --rdb "$dir/size.rdb" >/dev/null 2>&1
echo "$nkeys keys, RDB $(du -h "$dir/size.rdb" | cut -f1), $(nproc) CPUs, data in $dir"
rm -f "$dir/size.rdb"
run_case "disk-based, none" none "$p1"
run_case "disk-based, zstd:3" zstd:3 "$p1"
run_case "diskless, none" none "$p2"
run_case "diskless, zstd:3" zstd:3 "$p2"
exit 0
