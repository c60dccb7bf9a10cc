# pg.sh - a throwaway PostgreSQL 15 server for the tests (sourced, bash).
#
#   . "$ZB_SRCDIR/tests/lib/pg.sh"   # exits 77 (skip) without PostgreSQL 15
#   pg_start                          # initdb + start; exports PG* below
#   pg_seed_sample db1
#   pg_psql -d db1 -c 'select 1'
#   pg_stop                           # or let the EXIT trap do it
#
# The server runs as a non-root user (PG_RUNAS, default zbtest, created
# with useradd --system when the tests run as root) from a private
# temporary directory, listens on 127.0.0.1 only on a random free port,
# keeps its unix socket inside that directory, and asks TCP clients for a
# scram-sha-256 password. See tests/lib/README.md.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_RUNAS=${PG_RUNAS:-zbtest}
PG_SUPERUSER=${PG_SUPERUSER:-postgres}

for _pg_tool in initdb pg_ctl postgres psql pg_dump pg_restore pg_dumpall \
    pgbench createdb; do
	if [ ! -x "$PG_BIN/$_pg_tool" ]; then
		echo "PostgreSQL 15 not installed ($PG_BIN/$_pg_tool missing): skipped"
		exit 77
	fi
done
unset _pg_tool

# Settings inherited from the caller's environment must not redirect the
# test clients to another server or supply another password.
unset PGPASSWORD PGDATABASE PGSERVICE PGSERVICEFILE PGHOSTADDR PGOPTIONS \
    PGSSLMODE PGREQUIRESSL PGTARGETSESSIONATTRS PGCONNECT_TIMEOUT PGUSER \
    PGHOST PGPORT PGPASSFILE

PG_TMP=
PG_PID=
PG_DATA=
_PG_TRAPPED=
_PG_PREV_EXIT_TRAP=

# _pg_as cmd...: run a server-side command as the unprivileged owner, from
# a directory that user can enter.
_pg_as() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd "$PG_TMP" && runuser -u "$PG_RUNAS" -- "$@")
	else
		(cd "$PG_TMP" && "$@")
	fi
}

# _pg_user: make sure PG_RUNAS exists when running as root.
_pg_user() {
	[ "$(id -u)" -eq 0 ] || return 0
	id -u "$PG_RUNAS" >/dev/null 2>&1 && return 0
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin "$PG_RUNAS" 2>/dev/null
	# a parallel test may have created it first
	id -u "$PG_RUNAS" >/dev/null 2>&1 && return 0
	echo "pg.sh: cannot create user $PG_RUNAS" >&2
	return 1
}

# _pg_free_port: print a TCP port that is free on 127.0.0.1 right now.
_pg_free_port() {
	if command -v python3 >/dev/null 2>&1 && python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null; then
		return 0
	fi
	echo $((20000 + RANDOM % 30000))
}

# _pg_session_pids: the live processes of our server. Every postmaster
# child calls setsid() and outlives a SIGKILLed postmaster, but all of them
# keep the postmaster's working directory, the data directory.
_pg_session_pids() {
	local d
	[ -n "$PG_DATA" ] && [ -d "$PG_DATA" ] || return 0
	for d in /proc/[0-9]*; do
		[ "$d/cwd" -ef "$PG_DATA" ] 2>/dev/null || continue
		echo "${d#/proc/}"
	done
}

# _pg_alive pid: the process exists and is not a zombie waiting for init
# (or a container's pid 1) to reap it.
_pg_alive() {
	local stat
	kill -0 "$1" 2>/dev/null || return 1
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 0
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# _pg_wait_reaped secs: wait until PG_PID no longer exists even as a zombie.
_pg_wait_reaped() {
	local i n=$(($1 * 10))
	for ((i = 0; i < n; i++)); do
		kill -0 "$PG_PID" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# pg_running: true while any process of our server is alive.
pg_running() {
	[ -n "$PG_PID" ] || return 1
	_pg_alive "$PG_PID" && return 0
	[ -n "$(_pg_session_pids)" ]
}

# _pg_wait_gone secs: wait until every process of our server has exited.
_pg_wait_gone() {
	local i n=$(($1 * 10))
	for ((i = 0; i < n; i++)); do
		pg_running || return 0
		sleep 0.1
	done
	return 1
}

# _pg_launch [keep]: start the server on a random free port (or first try
# the current PGPORT with keep), with a new port whenever the last one was
# taken meanwhile.
_pg_launch() {
	local _
	[ "${1:-}" = keep ] || PGPORT=
	for _ in 1 2 3 4 5 6 7 8; do
		[ -n "${PGPORT:-}" ] || PGPORT=$(_pg_free_port)
		echo "port = $PGPORT" >"$PG_TMP/port.conf"
		chmod 644 "$PG_TMP/port.conf"
		if _pg_as "$PG_BIN/pg_ctl" start -w -t 30 -D "$PG_DATA" \
		    -l "$PG_LOG" >>"$PG_TMP/pg_ctl.out" 2>&1; then
			PG_PID=$(head -1 "$PG_DATA/postmaster.pid")
			export PGPORT PG_PID
			return 0
		fi
		if ! tail -n 20 "$PG_LOG" | grep -q 'could not bind\|already in use'; then
			break
		fi
		PGPORT=
	done
	echo "pg.sh: server did not start; log:" >&2
	tail -n 20 "$PG_LOG" "$PG_TMP/pg_ctl.out" >&2
	PG_PID=
	return 1
}

# pg_start: create a cluster in a new temporary directory and start it.
pg_start() {
	local pw
	if [ -n "$PG_TMP" ]; then
		echo "pg.sh: pg_start called twice" >&2
		return 1
	fi
	_pg_user || return 1
	PG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/zbpg.XXXXXX") || return 1
	PG_TMP=$(cd "$PG_TMP" && pwd -P)
	chmod 700 "$PG_TMP"
	[ "$(id -u)" -ne 0 ] || chown "$PG_RUNAS" "$PG_TMP"
	[ -n "$_PG_TRAPPED" ] || [ -n "${PG_NO_TRAP:-}" ] || _pg_trap

	PG_DATA=$PG_TMP/data
	PG_SOCKDIR=$PG_TMP/sock
	PG_LOG=$PG_TMP/server.log
	PGHOST=127.0.0.1
	PGUSER=$PG_SUPERUSER
	PG_PASSWORD=${PG_PASSWORD:-zb-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')}
	PG_PASSWORD_FILE=$PG_TMP/superuser.pass
	PGPASSFILE=$PG_TMP/pgpass
	export PG_BIN PG_TMP PG_DATA PG_SOCKDIR PG_LOG PGHOST PGUSER \
	    PG_PASSWORD PG_PASSWORD_FILE PGPASSFILE

	# Client-side secrets belong to the caller (mode 0600); initdb gets
	# its own copy, removed once the cluster exists.
	(umask 077
	 printf '%s\n' "$PG_PASSWORD" >"$PG_PASSWORD_FILE"
	 pw=${PG_PASSWORD//\\/\\\\}
	 printf '127.0.0.1:*:*:%s:%s\n' "$PG_SUPERUSER" "${pw//:/\\:}" >"$PGPASSFILE"
	 printf '%s\n' "$PG_PASSWORD" >"$PG_TMP/initdb.pw")
	[ "$(id -u)" -ne 0 ] || chown "$PG_RUNAS" "$PG_TMP/initdb.pw"
	_pg_as mkdir -m 700 "$PG_SOCKDIR"

	if ! _pg_as "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_SUPERUSER" \
	    --pwfile="$PG_TMP/initdb.pw" --auth-local=trust \
	    --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync \
	    >"$PG_TMP/initdb.out" 2>&1; then
		echo "pg.sh: initdb failed:" >&2
		tail -n 20 "$PG_TMP/initdb.out" >&2
		rm -f "$PG_TMP/initdb.pw"
		return 1
	fi
	rm -f "$PG_TMP/initdb.pw"

	# Only the private unix socket is trusted (the directory is 0700);
	# every TCP client, replication included, needs the password.
	_pg_as sh -c "cat >'$PG_DATA/pg_hba.conf'" <<-EOF
	local all all trust
	local replication all trust
	host all all 127.0.0.1/32 scram-sha-256
	host replication all 127.0.0.1/32 scram-sha-256
	EOF
	_pg_as sh -c "cat >>'$PG_DATA/postgresql.conf'" <<-EOF

	# zentoria-backupd tests (tests/lib/pg.sh)
	listen_addresses = '127.0.0.1'
	unix_socket_directories = '$PG_SOCKDIR'
	password_encryption = 'scram-sha-256'
	fsync = off
	full_page_writes = off
	wal_level = replica
	max_wal_senders = 4
	max_connections = 30
	shared_buffers = 16MB
	dynamic_shared_memory_type = mmap
	logging_collector = off
	log_line_prefix = '%m [%p] %u@%d '
	log_connections = on
	include = '$PG_TMP/port.conf'
	EOF

	_pg_launch
}

# pg_restart: start the existing cluster again (after pg_stop or
# pg_kill_hard), on the same port when it is still free.
pg_restart() {
	[ -n "$PG_TMP" ] || { echo "pg.sh: no cluster" >&2; return 1; }
	if pg_running; then
		echo "pg.sh: server still running" >&2
		return 1
	fi
	# A SIGKILLed postmaster stays a zombie until init reaps it, and its
	# pid in postmaster.pid would then block the new start.
	_pg_wait_reaped 5 || rm -f "$PG_DATA/postmaster.pid"
	_pg_launch keep
}

# pg_stop: stop our server by its PID: pg_ctl stop -m fast, then SIGKILL
# whatever is left of it.
pg_stop() {
	local p
	[ -n "$PG_PID" ] || return 0
	if _pg_alive "$PG_PID"; then
		_pg_as "$PG_BIN/pg_ctl" stop -m fast -w -t 20 -D "$PG_DATA" \
		    >>"$PG_TMP/pg_ctl.out" 2>&1
	fi
	if pg_running; then
		kill -KILL "$PG_PID" 2>/dev/null
		for p in $(_pg_session_pids); do
			kill -KILL "$p" 2>/dev/null
		done
	fi
	if ! _pg_wait_gone 10; then
		echo "pg.sh: server $PG_PID did not exit" >&2
		return 1
	fi
	return 0
}

# pg_kill_hard: SIGKILL the postmaster and every backend, as a crash or an
# OOM kill would, so a client mid-dump sees its connection drop. PG_PID
# keeps the dead pid (pg_running is false, pg_restart recovers).
pg_kill_hard() {
	local p kids
	[ -n "$PG_PID" ] || return 1
	kids=$(_pg_session_pids)
	kill -KILL "$PG_PID" 2>/dev/null
	for p in $kids; do
		kill -KILL "$p" 2>/dev/null
	done
	for p in $(_pg_session_pids); do
		kill -KILL "$p" 2>/dev/null
	done
	_pg_wait_gone 10
}

# pg_psql args...: psql as the superuser over TCP with the password file;
# stops at the first error. Add -d DB for another database than postgres.
pg_psql() {
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -w -h 127.0.0.1 -p "$PGPORT" \
	    -U "$PG_SUPERUSER" "$@"
}

# pg_psql_db db args...: pg_psql -d db args...
pg_psql_db() {
	local db=$1
	shift
	pg_psql -d "$db" "$@"
}

# pg_seed_sample db: create db with pgbench -i -s 1 tables (100000
# accounts), a UTF-8 text table, a view, a sequence and the role zb_reader
# (LOGIN, password zb_reader_pw, SELECT on the public schema).
pg_seed_sample() {
	local db=${1:?pg_seed_sample DBNAME}
	"$PG_BIN/createdb" -w -h 127.0.0.1 -p "$PGPORT" -U "$PG_SUPERUSER" \
	    "$db" || return 1
	"$PG_BIN/pgbench" -i -s 1 -q -h 127.0.0.1 -p "$PGPORT" \
	    -U "$PG_SUPERUSER" "$db" >"$PG_TMP/pgbench.out" 2>&1 || {
		tail -n 5 "$PG_TMP/pgbench.out" >&2
		return 1
	}
	pg_psql -d "$db" <<-'EOF'
	DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'zb_reader')
		THEN
			CREATE ROLE zb_reader LOGIN PASSWORD 'zb_reader_pw';
		END IF;
	END $$;
	CREATE TABLE zb_text (id serial PRIMARY KEY, lang text NOT NULL,
		body text NOT NULL);
	INSERT INTO zb_text (lang, body) VALUES
		('fr', 'Déjà vu, garçon, œuvre'),
		('de', 'Größe, Straße, Übermaß'),
		('el', 'Καλημέρα κόσμε'),
		('ru', 'Съешь же ещё этих мягких французских булок'),
		('ja', '日本語のテキスト、ひらがな'),
		('zh', '你好，世界'),
		('ar', 'مرحبا بالعالم'),
		('emoji', '🐘 📦 🔐 — “quotes” ‘single’'),
		('combining', 'e' || U&'\0301' || ' n' || U&'\0303'),
		('special', E'tab\there, newline\nthere, back\\slash, ''quote''');
	CREATE VIEW zb_view AS
		SELECT a.aid, a.abalance, b.bid
		FROM pgbench_accounts a JOIN pgbench_branches b USING (bid)
		WHERE a.aid <= 100;
	CREATE SEQUENCE zb_seq START 1000 INCREMENT 7;
	SELECT nextval('zb_seq') FROM generate_series(1, 3) \g /dev/null
	GRANT USAGE ON SCHEMA public TO zb_reader;
	GRANT SELECT ON ALL TABLES IN SCHEMA public TO zb_reader;
	GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO zb_reader;
	ANALYZE;
	EOF
}

# pg_cleanup: stop the server (if any) and remove the temporary directory.
# Safe to call more than once, and from a trap.
pg_cleanup() {
	pg_stop
	if [ -n "$PG_PID" ] && pg_running; then
		# never delete the data directory under a live server
		echo "pg.sh: server $PG_PID still running; $PG_TMP kept" >&2
		return 1
	fi
	[ -z "$PG_TMP" ] || rm -rf "$PG_TMP"
	PG_TMP=
	PG_PID=
}

_pg_exit_trap() {
	local rc=$?
	pg_cleanup
	eval "$_PG_PREV_EXIT_TRAP"
	exit $rc
}

# _pg_trap: run pg_cleanup on exit, then the EXIT trap that was already
# set (e.g. lib.sh's rm -rf "$T"); INT/TERM/HUP exit through it.
_pg_trap() {
	local prev
	prev=$(trap -p EXIT)
	prev=${prev#trap -- \'}
	prev=${prev%\' EXIT}
	_PG_PREV_EXIT_TRAP=${prev//\'\\\'\'/\'}
	trap _pg_exit_trap EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	_PG_TRAPPED=1
}
