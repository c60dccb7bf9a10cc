# redis.sh - throwaway redis-server instances for the tests (sourced, bash).
#
#   . "$ZB_SRCDIR/tests/lib/redis.sh"  # exits 77 (skip) without redis-server
#   redis_start [--diskless yes|no] [--requirepass PW] [-- ARGS...]
#                                      # sets REDIS_PORT REDIS_PID REDIS_DIR
#   redis_seed PORT                    # every value type, db0 db1 db5
#   redis_cli PORT [-a PW] args...     # redis-cli on 127.0.0.1:PORT
#   redis_stop PID                     # or let the EXIT trap stop them all
#
# Each server runs in the foreground of a background job, in a private
# temporary directory, on a free port of 127.0.0.1 only, with DEBUG
# enabled (DEBUG DIGEST), no snapshots (--save '') and
# repl-diskless-sync-delay 0.  Servers are stopped by PID, never by name.

for _r in redis-server redis-cli; do
	if ! command -v "$_r" >/dev/null 2>&1; then
		echo "$_r not installed: skipped"
		exit 77
	fi
done
unset _r
unset REDISCLI_AUTH

REDIS_PORT=
REDIS_PID=
REDIS_DIR=
_REDIS_PIDS=()
_REDIS_DIRS=()
_REDIS_TRAPPED=

# _redis_free_port: a TCP port free on 127.0.0.1 right now.
_redis_free_port() {
	python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 30000))
}

# redis_cli PORT args...: redis-cli against our server; -a PW and --user
# are passed through (REDISCLI_AUTH keeps the password out of argv).
redis_cli() {
	local port=$1 pw=
	shift
	if [ "${1:-}" = -a ]; then
		pw=$2
		shift 2
	fi
	if [ -n "$pw" ]; then
		REDISCLI_AUTH=$pw redis-cli -h 127.0.0.1 -p "$port" "$@"
	else
		redis-cli -h 127.0.0.1 -p "$port" "$@"
	fi
}

# redis_start [--diskless yes|no] [--requirepass PW] [--rdb FILE]
# [-- extra redis-server args]: start a server; with --rdb it loads FILE.
redis_start() {
	local diskless=no pw= rdb= extra=() i up
	while [ $# -gt 0 ]; do
		case $1 in
		--diskless) diskless=$2; shift 2 ;;
		--requirepass) pw=$2; shift 2 ;;
		--rdb) rdb=$2; shift 2 ;;
		--) shift; extra=("$@"); break ;;
		*) echo "redis_start: unknown option $1" >&2; return 1 ;;
		esac
	done
	[ -n "$_REDIS_TRAPPED" ] || [ -n "${REDIS_NO_TRAP:-}" ] || _redis_trap
	REDIS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/zbredis.XXXXXX") || return 1
	chmod 700 "$REDIS_DIR"
	_REDIS_DIRS+=("$REDIS_DIR")
	[ -z "$rdb" ] || cp "$rdb" "$REDIS_DIR/dump.rdb"
	for i in 1 2 3 4 5; do
		REDIS_PORT=$(_redis_free_port)
		# The password goes through a config file, never argv.
		: >"$REDIS_DIR/redis.conf"
		chmod 600 "$REDIS_DIR/redis.conf"
		[ -z "$pw" ] || printf 'requirepass "%s"\n' "$pw" >"$REDIS_DIR/redis.conf"
		redis-server "$REDIS_DIR/redis.conf" --port "$REDIS_PORT" \
		    --bind 127.0.0.1 --dir "$REDIS_DIR" --dbfilename dump.rdb \
		    --save '' --appendonly no --daemonize no \
		    --enable-debug-command yes --databases 16 \
		    --repl-diskless-sync "$diskless" \
		    --repl-diskless-sync-delay 0 \
		    --logfile "$REDIS_DIR/server.log" "${extra[@]}" \
		    </dev/null >/dev/null 2>&1 &
		REDIS_PID=$!
		_REDIS_PIDS+=("$REDIS_PID")
		up=
		for _ in $(seq 1 100); do
			if ! kill -0 "$REDIS_PID" 2>/dev/null; then
				break
			fi
			if [ "$(redis_cli "$REDIS_PORT" -a "$pw" PING 2>/dev/null)" = PONG ]; then
				up=1
				break
			fi
			sleep 0.05
		done
		if [ -n "$up" ]; then
			export REDIS_PORT REDIS_PID REDIS_DIR
			return 0
		fi
		redis_stop "$REDIS_PID"
		grep -q 'Address already in use' "$REDIS_DIR/server.log" 2>/dev/null || break
	done
	echo "redis.sh: redis-server did not start; log:" >&2
	tail -n 20 "$REDIS_DIR/server.log" >&2
	return 1
}

# redis_stop PID: SIGTERM, then SIGKILL after 10 s; waits for the exit.
redis_stop() {
	local pid=$1 i
	# Safe under set -e: every expected failure is caught.
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	return 0
}

# redis_seed PORT [-a PW]: every value type in both encodings, keys with
# a long expiry, and databases 0, 1 and 5.
redis_seed() {
	local port=$1 auth=() d
	shift
	[ "${1:-}" != -a ] || auth=(-a "$2")
	d=$(mktemp -d "${TMPDIR:-/tmp}/zbseed.XXXXXX") || return 1
	{
		echo "SET str:small hello"
		echo "SET str:int 12345"
		echo "HSET hash:small f1 v1 f2 v2 f3 v3"
		for i in $(seq 1 600); do echo "HSET hash:large field$i value$i"; done
		echo "RPUSH list:small a b c"
		for i in $(seq 1 600); do echo "RPUSH list:large element-$i"; done
		echo "SADD set:int 1 2 3 4 5"
		for i in $(seq 1 600); do echo "SADD set:large member-$i"; done
		echo "ZADD zset:small 1 one 2 two 3 three"
		for i in $(seq 1 600); do echo "ZADD zset:large $i m$i"; done
		for i in $(seq 1 50); do echo "XADD stream:1 * n $i"; done
		echo "XGROUP CREATE stream:1 grp 0"
		echo "XREADGROUP GROUP grp consumer1 COUNT 10 STREAMS stream:1 >"
		for i in $(seq 1 20); do echo "SETEX ttl:$i 3600 v$i"; done
		echo "HSET ttl:hash a 1"
		echo "EXPIRE ttl:hash 3600"
		echo "DEBUG POPULATE 5000 pop 64"
	} >"$d/db0.txt"
	redis_cli "$port" "${auth[@]}" -n 0 <"$d/db0.txt" >/dev/null || return 1
	# binary-ish and large (> 1 MB) strings
	head -c 4096 /dev/urandom >"$d/bin"
	redis_cli "$port" "${auth[@]}" -n 0 -x SET str:binary <"$d/bin" >/dev/null
	head -c 1500000 /dev/urandom | base64 -w0 >"$d/big"
	redis_cli "$port" "${auth[@]}" -n 0 -x SET str:big <"$d/big" >/dev/null
	printf 'SET one 1\nLPUSH l x y z\nSETEX exp1 3600 x\n' |
	    redis_cli "$port" "${auth[@]}" -n 1 >/dev/null
	printf 'SADD s a b c\nZADD z 1 a\nSET k v\n' |
	    redis_cli "$port" "${auth[@]}" -n 5 >/dev/null
	rm -rf "$d"
}

# redis_digest PORT [-a PW]: DEBUG DIGEST of the whole server.
redis_digest() {
	local port=$1
	shift
	redis_cli "$port" "$@" DEBUG DIGEST
}

# redis_cleanup: stop every server we started, remove their directories.
redis_cleanup() {
	local p d
	for p in "${_REDIS_PIDS[@]}"; do
		redis_stop "$p"
	done
	for d in "${_REDIS_DIRS[@]}"; do
		rm -rf "$d"
	done
	_REDIS_PIDS=()
	_REDIS_DIRS=()
}

_redis_status() { return "$1"; }

_redis_exit_trap() {
	local rc=$?
	redis_cleanup
	# The previous trap (pg.sh's, say) reads $?: give it the exit status.
	if [ "$rc" -eq 0 ]; then
		eval "$_REDIS_PREV_EXIT_TRAP"
	else
		_redis_status "$rc" || eval "$_REDIS_PREV_EXIT_TRAP"
	fi
	exit $rc
}

# _redis_trap: redis_cleanup on exit, then the EXIT trap already set.
_redis_trap() {
	local prev
	prev=$(trap -p EXIT)
	prev=${prev#trap -- \'}
	prev=${prev%\' EXIT}
	_REDIS_PREV_EXIT_TRAP=${prev//\'\\\'\'/\'}
	trap _redis_exit_trap EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	_REDIS_TRAPPED=1
}
