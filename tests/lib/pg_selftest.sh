#!/bin/bash
# pg_selftest.sh - checks tests/lib/pg.sh: a throwaway PostgreSQL 15 on
# 127.0.0.1 with scram passwords, sample data, pg_dump -Fc / pg_restore /
# pg_dumpall round trips, a hard kill and restart, a stop by PID that leaves
# no process behind, and cleanup from the EXIT trap.
#   bash tests/lib/pg_selftest.sh      (as root, like CI; exit 77 = skipped)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/zbpgst.XXXXXX)
chmod 700 "$T"
trap 'rm -rf "$T"' EXIT
. "$HERE/pg.sh"
. "$HERE/assert.sh"

# same "what" got want
same() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		fail "$1: got '$2', want '$3'"
	fi
}

# live_procs: non-zombie processes whose working directory is $1 or whose
# command line names it (a postmaster runs in, and is started with -D, its
# data directory; every backend inherits that working directory).
live_procs() {
	local d state argv
	for d in /proc/[0-9]*; do
		argv=()
		{ mapfile -d '' argv <"$d/cmdline"; } 2>/dev/null
		if [ "$d/cwd" -ef "$1" ] 2>/dev/null || [[ "${argv[*]}" == *"$1"* ]]; then
			read -r state 2>/dev/null <"$d/stat" || continue
			state=${state##*) }
			[ "${state%% *}" = Z ] || echo "${d#/proc/}"
		fi
	done
}


# ---- start -------------------------------------------------------------------
t0=$(date +%s%N)
if ! pg_start; then
	fail "pg_start"
	finish
	exit 1
fi
ok "pg_start in $((($(date +%s%N) - t0) / 1000000)) ms on port $PGPORT"
same "PGHOST is the loopback address" "$PGHOST" 127.0.0.1
[[ "$PGPORT" =~ ^[0-9]+$ ]] && ok "PGPORT is a number" || fail "PGPORT '$PGPORT'"
same "PG_PID is the postmaster of PG_DATA" "$(head -1 "$PG_DATA/postmaster.pid")" "$PG_PID"
same "PG_BIN" "$PG_BIN" /usr/lib/postgresql/15/bin
if [ "$(id -u)" -eq 0 ]; then
	same "postmaster runs as $PG_RUNAS" "$(stat -c %U "/proc/$PG_PID")" "$PG_RUNAS"
	same "data directory belongs to $PG_RUNAS" "$(stat -c %U "$PG_DATA")" "$PG_RUNAS"
fi
same "password file is 0600" "$(stat -c %a "$PG_PASSWORD_FILE")" 600
same "PGPASSFILE is 0600" "$(stat -c %a "$PGPASSFILE")" 600
same "password file holds the password" "$(cat "$PG_PASSWORD_FILE")" "$PG_PASSWORD"
same "temporary directory is private" "$(stat -c %a "$PG_TMP")" 700
same "data directory is inside it" "${PG_DATA#"$PG_TMP"/}" data

check "psql over TCP with the password file" pg_psql -At \
    -c "SELECT inet_server_addr(), current_user, version()"
grep -q '^127\.0\.0\.1|postgres|PostgreSQL 15\.' "$T/out" &&
	ok "connected to PostgreSQL 15 on 127.0.0.1" || fail "psql said: $(cat "$T/out")"
grep -q 'connection authenticated: .*method=scram-sha-256' "$PG_LOG" &&
	ok "TCP login used scram-sha-256" || fail "no scram login in $PG_LOG"
same "listens only on 127.0.0.1" "$(pg_psql -Atc 'SHOW listen_addresses')" 127.0.0.1
same "socket directory is private" "$(pg_psql -Atc 'SHOW unix_socket_directories')" "$PG_SOCKDIR"
same "fsync is off" "$(pg_psql -Atc 'SHOW fsync')" off
same "server encoding UTF8" "$(pg_psql -Atc 'SHOW server_encoding')" UTF8
check "plain psql works from the exported environment alone" \
    "$PG_BIN/psql" -X -w -d postgres -Atc "SELECT 1"
check "the raw password file works as PGPASSWORD" \
    env PGPASSFILE=/dev/null PGPASSWORD="$(cat "$PG_PASSWORD_FILE")" \
    "$PG_BIN/psql" -X -w -d postgres -Atc "SELECT 1"
check_fails 2 "a wrong password is refused" env PGPASSWORD=wrong-pw \
    "$PG_BIN/psql" -X -w -d postgres -c "SELECT 1"
grep_err "wrong password error text" \
    'password authentication failed for user "postgres"'
check_fails 2 "no password is refused" env PGPASSFILE=/dev/null \
    "$PG_BIN/psql" -X -w -d postgres -c "SELECT 1"
grep_err "missing password error text" 'no password supplied'
check_fails 2 "::1 is not listened on" "$PG_BIN/psql" -X -w -h ::1 -d postgres \
    -c "SELECT 1"
check "the unix socket is trusted" "$PG_BIN/psql" -X -w -h "$PG_SOCKDIR" \
    -d postgres -Atc "SELECT 1"

# ---- sample data -------------------------------------------------------------
check "pg_seed_sample db1" pg_seed_sample db1
check "pg_seed_sample db2 (zb_reader exists already)" pg_seed_sample db2
same "pgbench accounts" "$(pg_psql -d db2 -Atc 'SELECT count(*) FROM pgbench_accounts')" 100000
same "UTF-8 text" "$(pg_psql -d db1 -Atc "SELECT body FROM zb_text WHERE lang = 'ja'")" \
    "日本語のテキスト、ひらがな"
same "UTF-8 emoji" "$(pg_psql -d db1 -Atc "SELECT left(body, 1) FROM zb_text WHERE lang = 'emoji'")" "🐘"
same "view" "$(pg_psql -d db1 -Atc 'SELECT count(*) FROM zb_view')" 100
same "sequence" "$(pg_psql -d db1 -Atc 'SELECT last_value FROM zb_seq')" 1014
same "zb_reader logs in and reads" "$(PGPASSFILE=/dev/null PGPASSWORD=zb_reader_pw \
    "$PG_BIN/psql" -X -w -U zb_reader -d db2 -Atc 'SELECT count(*) FROM zb_text' 2>&1)" 10

# ---- dumps -------------------------------------------------------------------
check "pg_dump -Fc db1" "$PG_BIN/pg_dump" -w -Fc -d db1 -f "$T/db1.dump"
same "dump starts with PGDMP" "$(head -c 5 "$T/db1.dump")" PGDMP
check "pg_restore -l" "$PG_BIN/pg_restore" -l "$T/db1.dump"
for want in 'Format: CUSTOM' 'TABLE DATA public pgbench_accounts' \
    'TABLE DATA public zb_text' 'VIEW public zb_view' 'SEQUENCE public zb_seq' \
    'SEQUENCE SET public zb_seq' 'ACL public TABLE zb_text'; do
	grep -qF "$want" "$T/out" && ok "TOC has $want" || fail "TOC lacks $want"
done
check "pg_restore reads every data block" "$PG_BIN/pg_restore" -f /dev/null "$T/db1.dump"
check "pg_dumpall --globals-only" "$PG_BIN/pg_dumpall" -w --globals-only
grep -q '^CREATE ROLE zb_reader;' "$T/out" && ok "globals have the role zb_reader" ||
	fail "globals lack zb_reader: $(grep -i role "$T/out" | head -5)"

check "createdb db1_restored" "$PG_BIN/createdb" -w db1_restored
check "pg_restore into db1_restored" "$PG_BIN/pg_restore" -w --exit-on-error \
    -d db1_restored "$T/db1.dump"
# \restrict/\unrestrict carry a random key per run (15.14+)
data_of() {
	"$PG_BIN/pg_dump" -w -a -d "$1" | grep -v '^\\\(un\)\?restrict ' | LC_ALL=C sort
}
data_of db1 >"$T/db1.sql"
data_of db1_restored >"$T/db1_restored.sql"
[ "$(wc -l <"$T/db1.sql")" -gt 100000 ] && ok "data dump has every row" ||
	fail "data dump has $(wc -l <"$T/db1.sql") lines"
if cmp -s "$T/db1.sql" "$T/db1_restored.sql"; then
	ok "restored data equals the original"
else
	fail "restored data differs: $(diff "$T/db1.sql" "$T/db1_restored.sql" | head -5)"
fi

# ---- hard kill and restart ---------------------------------------------------
old_pid=$PG_PID
check "pg_kill_hard" pg_kill_hard
same "no live process after pg_kill_hard" "$(live_procs "$PG_DATA")" ""
check_fails 2 "clients are refused after the kill" pg_psql -c "SELECT 1"
check "pg_restart after the kill" pg_restart
[ "$PG_PID" != "$old_pid" ] && ok "new postmaster pid" || fail "PG_PID unchanged"
same "data survived the crash" "$(pg_psql -d db1 -Atc 'SELECT count(*) FROM pgbench_accounts')" 100000

# ---- stop by PID -------------------------------------------------------------
pid=$PG_PID
check "pg_stop" pg_stop
if ! _pg_alive "$pid"; then ok "postmaster $pid is gone"; else fail "postmaster $pid alive"; fi
same "no postgres process of ours remains" "$(live_procs "$PG_DATA")" ""
check_fails 2 "pg_isready fails after the stop" "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PGPORT"
tmp=$PG_TMP
check "pg_cleanup" pg_cleanup
[ ! -e "$tmp" ] && ok "pg_cleanup removed the temporary directory" || fail "$tmp left"

# ---- the EXIT trap -----------------------------------------------------------
# exit: status kept, the caller's earlier trap still runs, nothing left.
bash -c '
	trap "touch $1/earlier-trap" EXIT
	. "$2/pg.sh"
	pg_start || exit 9
	echo "$PG_PID $PG_TMP $PG_DATA" >"$1/child"
	exit 3' child "$T" "$HERE" >/dev/null 2>&1
same "exit status is kept through the trap" "$?" 3
read -r cpid ctmp cdata <"$T/child"
[ -e "$T/earlier-trap" ] && ok "the earlier EXIT trap ran" || fail "earlier trap lost"
[ ! -e "$ctmp" ] && ok "trap removed the temporary directory" || fail "$ctmp left"
! _pg_alive "$cpid" && [ -z "$(live_procs "$cdata")" ] &&
	ok "trap stopped the server" || fail "server $cpid left running"

# SIGTERM to a test waiting on a child
rm -f "$T/child"
bash -c '
	. "$2/pg.sh"
	pg_start || exit 9
	echo "$PG_PID $PG_TMP $PG_DATA" >"$1/child"
	sleep 30 &
	echo $! >"$1/sleeper"
	wait' child "$T" "$HERE" >/dev/null 2>&1 &
bpid=$!
for _ in $(seq 100); do [ -s "$T/sleeper" ] && break; sleep 0.1; done
kill -TERM "$bpid"
wait "$bpid"
same "SIGTERM exit status" "$?" 143
read -r cpid ctmp cdata <"$T/child"
kill "$(cat "$T/sleeper")" 2>/dev/null
[ -n "$ctmp" ] && [ ! -e "$ctmp" ] && ok "SIGTERM: temporary directory removed" ||
	fail "SIGTERM: '$ctmp' left"
! _pg_alive "$cpid" && [ -z "$(live_procs "$cdata")" ] &&
	ok "SIGTERM: server stopped" || fail "SIGTERM: server $cpid left running"

finish
