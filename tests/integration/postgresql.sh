#!/bin/bash
# postgresql.sh - the postgresql source against a real PostgreSQL 15 on
# 127.0.0.1: backup of several databases and the globals, exact row
# counts in the manifest, restore into a new database and compare all
# data, refusal to overwrite, restore to a file and to a URI, test-restore
# passing and failing, wrong password, dead port, server killed mid-dump.
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/pg.sh"
. "$ZB_SRCDIR/tests/lib/procwatch.sh"

pg_start || { echo "cannot start PostgreSQL"; exit 1; }
export -n PG_PASSWORD	# the processes under test must not inherit it
pg_seed_sample db1 || exit 1
pg_seed_sample db2 || exit 1
pg_psql -c "CREATE DATABASE db3" || exit 1
pg_psql -d db2 -c "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS h
    FROM generate_series(1, 200000) g" || exit 1
pg_psql -c "CREATE ROLE \"Odd \"\"Role\"\"\" NOLOGIN" || exit 1

# The plugin must get everything from its config: none of the harness's
# PG* settings may leak into it, nor the harness's password.
Z() {
	env -u PGHOST -u PGUSER -u PGPASSFILE -u PGPORT -u PG_PASSWORD \
	    "$CTL" -c "${ZB_INI:-$T/zb.ini}" "$@"
}

printf 'wrong-password\n' >"$T/wrong.pass"
chmod 600 "$T/wrong.pass"
DEAD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = zstd:3

[sink:near]
plugin = local
path = $T/near

[sink:far]
plugin = local
path = $T/far

[sink:slow]
plugin = sink_slow
delay_ms = 200

[source:pg]
plugin = postgresql
conninfo = host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres
password_file = $PG_PASSWORD_FILE
exclude_databases = db3, postgres

[source:pgone]
plugin = postgresql
conninfo = postgresql://postgres@127.0.0.1:$PGPORT/postgres
password_file = $PG_PASSWORD_FILE
databases = db2
globals = no

[source:badpw]
plugin = postgresql
conninfo = host=127.0.0.1 port=$PGPORT user=postgres
password_file = $T/wrong.pass

[source:dead]
plugin = postgresql
conninfo = host=127.0.0.1 port=$DEAD_PORT user=postgres
timeout = 5s

[job:pg]
source = pg
sinks = near, far

[job:pgslow]
source = pgone
sinks = near, slow

[job:pgenc]
source = pgone
sinks = near

[source:pgbusy]
plugin = postgresql
conninfo = host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres
password_file = $PG_PASSWORD_FILE
databases = busy
globals = no

[job:pgbusy]
source = pgbusy
sinks = near

[source:pgbusygz]
plugin = postgresql
conninfo = host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres
password_file = $PG_PASSWORD_FILE
databases = busy
globals = no
dump_compression = 1

[job:pgbusygz]
source = pgbusygz
sinks = near

[job:badpw]
source = badpw
sinks = near

[job:dead]
source = dead
sinks = near
INI
chmod 600 "$T/zb.ini"

# Every child's argv and environment, sampled while it runs: the
# password only ever reaches the PostgreSQL tools, in PGPASSWORD.
PROCWATCH_ENV_OK=pg_dump,pg_dumpall,pg_restore,psql \
    procwatch_start "$PG_PASSWORD" wrong-password
SECRET_FILES="$T/wrong.pass"

check "zentoria-backupctl test-restore --help" Z test-restore --help
grep -q "usage: zentoria-backupctl" "$T/out" || fail "test-restore --help text"
check "plugins lists postgresql" Z plugins
grep -q "^postgresql" "$T/out" || fail "plugins output: $(cat "$T/out")"

# ---- backup -------------------------------------------------------------------
check "run pg" Z run pg
check "list" Z list --json
for s in db1 db2 globals; do
	grep -q "\"pg/$s@" "$T/out" && ok "artifact pg/$s" || fail "no pg/$s"
done
grep -q '"pg/db3@\|"pg/postgres@' "$T/out" && fail "excluded databases dumped"
ID1=$(grep -o '"pg/db1@[^"]*"' "$T/out" | head -1 | tr -d '"')
ID2=$(grep -o '"pg/db2@[^"]*"' "$T/out" | head -1 | tr -d '"')
IDG=$(grep -o '"pg/globals@[^"]*"' "$T/out" | head -1 | tr -d '"')
M1=$(find "$T/near/pg/db1" -name manifest.json | head -1)
M2=$(find "$T/near/pg/db2" -name manifest.json | head -1)
MG=$(find "$T/near/pg/globals" -name manifest.json | head -1)

# Exact counts on the dump's snapshot, the versions, the roles.
fact() { python3 -c 'import json,sys
m = json.load(open(sys.argv[1]))["facts"]
for k in sys.argv[2:]: m = m[k]
print(m)' "$@"; }
[ "$(fact "$M1" tables public.pgbench_accounts)" = 100000 ] &&
    ok "manifest: pgbench_accounts 100000 rows" ||
    fail "manifest tables: $(fact "$M1" tables)"
[ "$(fact "$M1" tables public.zb_text)" = 10 ] && ok "manifest: zb_text" ||
    fail "manifest zb_text"
[ "$(fact "$M2" tables public.big)" = 200000 ] && ok "manifest: db2 big" ||
    fail "manifest big"
fact "$M1" server_version | grep -q '^15\.' && ok "manifest: server_version" ||
    fail "server_version: $(fact "$M1" server_version)"
fact "$M1" pg_dump_version | grep -q '^15\.' && ok "manifest: pg_dump_version" ||
    fail "pg_dump_version"
[ "$(fact "$M1" encoding)" = UTF8 ] && ok "manifest: encoding" ||
    fail "encoding"
[ "$(fact "$MG" roles zb_reader)" = login ] && ok "manifest: role zb_reader" ||
    fail "roles: $(fact "$MG" roles)"

check "verify --latest" Z verify --latest --source pg

# ---- restore into a new database, compare everything -------------------------
dump_sorted() {	# db kind(-a|-s): data or schema, comparable
	"$PG_BIN/pg_dump" -w -h 127.0.0.1 -p "$PGPORT" -U postgres "$2" \
	    --no-owner -d "$1" | grep -v '^\\\(un\)\?restrict ' | sort
}
check "restore db1 --to db1_copy" Z restore "$ID1" --to db1_copy
dump_sorted db1 -a >"$T/a.data"; dump_sorted db1_copy -a >"$T/b.data"
dump_sorted db1 -s >"$T/a.schema"; dump_sorted db1_copy -s >"$T/b.schema"
[ -s "$T/a.data" ] && cmp -s "$T/a.data" "$T/b.data" &&
    ok "db1_copy has the same data" || fail "data differs"
cmp -s "$T/a.schema" "$T/b.schema" && ok "db1_copy has the same schema" ||
    fail "schema differs: $(diff "$T/a.schema" "$T/b.schema" | head -5)"
[ "$(pg_psql -d db1_copy -Atc "SELECT body FROM zb_text WHERE lang='ja'")" = \
    '日本語のテキスト、ひらがな' ] && ok "UTF-8 text intact" || fail "UTF-8"
[ "$(pg_psql -d db1_copy -Atc "SELECT last_value FROM zb_seq")" = 1014 ] &&
    ok "sequence value intact" || fail "sequence"

check_fails 1 "restore over a database with tables is refused" \
    Z restore "$ID1" --to db1_copy
grep_err "refusal says why" 'exists and holds .* tables: give --force'
check "restore --force replaces it" Z restore "$ID1" --to db1_copy --force
pg_psql -c "CREATE DATABASE emptydb" || fail "createdb emptydb"
check "restore into an existing empty database" Z restore "$ID2" --to emptydb
[ "$(pg_psql -d emptydb -Atc "SELECT count(*) FROM big")" = 200000 ] &&
    ok "emptydb restored" || fail "emptydb"
check "restore --to postgresql:// URI" Z restore "$ID2" \
    --to "postgresql://postgres@127.0.0.1:$PGPORT/db2_uri"
[ "$(pg_psql -d db2_uri -Atc "SELECT count(*) FROM big")" = 200000 ] &&
    ok "db2_uri restored" || fail "db2_uri"

check "restore --to FILE writes the dump" Z restore "$ID1" --to "$T/db1.dump"
[ "$(head -c 5 "$T/db1.dump")" = PGDMP ] && ok "dump file is PGDMP" ||
    fail "dump file"
"$PG_BIN/pg_restore" -l "$T/db1.dump" | grep -q "TABLE DATA public pgbench_accounts" &&
    ok "pg_restore -l reads it" || fail "pg_restore -l"
check "restore globals --to FILE" Z restore "$IDG" --to "$T/globals.sql"
grep -q 'CREATE ROLE zb_reader;' "$T/globals.sql" && ok "globals have the role" ||
    fail "globals role"
pg_psql -c "DROP ROLE \"Odd \"\"Role\"\"\"" || fail "drop odd role"
check "restore globals through psql" Z restore "$IDG"
[ "$(pg_psql -Atc "SELECT count(*) FROM pg_roles WHERE rolname = 'Odd \"Role\"'")" = 1 ] &&
    ok "globals restore re-created the role" || fail "role not re-created"

# ---- test-restore ----------------------------------------------------------------
check "test-restore ID" Z test-restore "$ID1"
grep -q "^ok .*$ID1.*matched the manifest in" "$T/out" && ok "test-restore output" ||
    fail "test-restore output: $(cat "$T/out")"
check "test-restore JOB (3 streams)" Z test-restore pg --json
[ "$(grep -c '"ok": true' "$T/out")" = 3 ] && ok "test-restore JOB: 3 passed" ||
    fail "test-restore JOB: $(cat "$T/out")"
for m in $(find "$T/near/pg/db1" "$T/far/pg/db1" -name manifest.json); do
	sed -i 's/"public.pgbench_branches": 1/"public.pgbench_branches": 2/' "$m"
done
check_fails 1 "test-restore fails on an altered count" Z test-restore "$ID1"
grep_err "names the table and both counts" \
    'pgbench_branches: 1 rows restored, the manifest says 2'
grep -q "^FAILED" "$T/out" && ok "prints FAILED" || fail "no FAILED line"
left=$(pg_psql -Atc "SELECT count(*) FROM pg_database WHERE datname LIKE 'zb\_%'")
[ "$left" = 0 ] && ok "no scratch database left behind" ||
    fail "$left scratch databases left"

# ---- snapshot consistency under concurrent writes ------------------------------
# A writer commits a row into busy_a and busy_b every millisecond while
# the backup runs.  pg_dump must dump the exported snapshot (--snapshot=),
# the one the tables are listed on and, when the archive cannot be
# counted, count(*) runs on (pgbusygz: pg_dump -Z1), so the restored
# tables hold exactly the manifest's counts.  Without it pg_dump takes
# its own snapshot, tens of commits later.  (pgbusy counts the rows in
# the archive itself.)
pg_psql -c "CREATE DATABASE busy" || fail "createdb busy"
pg_psql -d busy -c "
CREATE TABLE busy_a (id bigserial PRIMARY KEY, at timestamptz DEFAULT now());
CREATE TABLE busy_b (id bigserial PRIMARY KEY, pad text DEFAULT repeat('x', 100));
INSERT INTO busy_b (pad) SELECT md5(g::text) FROM generate_series(1, 50000) g;
CREATE TABLE busy_ctl (stop boolean NOT NULL);
INSERT INTO busy_ctl VALUES (false);
CREATE PROCEDURE busy_writer() LANGUAGE plpgsql AS \$\$
BEGIN
	FOR i IN 1..120000 LOOP
		EXIT WHEN (SELECT stop FROM busy_ctl);
		INSERT INTO busy_a DEFAULT VALUES;
		INSERT INTO busy_b DEFAULT VALUES;
		COMMIT;
		PERFORM pg_sleep(0.001);
	END LOOP;
END \$\$;" || fail "busy schema"
busy_count() { pg_psql -d "$1" -Atc "SELECT count(*) FROM $2"; }
n_after=0
for job in pgbusy pgbusygz; do
	pg_psql -d busy -c "UPDATE busy_ctl SET stop = false" || fail "reset"
	pg_psql -d busy -c "CALL busy_writer()" >"$T/writer.log" 2>&1 &
	WRITER=$!
	for i in $(seq 1 100); do
		[ "$(busy_count busy busy_a)" -gt $((n_after + 20)) ] && break
		sleep 0.05
	done
	n_before=$(busy_count busy busy_a)
	check "$job: run while a writer commits every millisecond" Z run $job
	n_after=$(busy_count busy busy_a)
	pg_psql -d busy -c "UPDATE busy_ctl SET stop = true" || fail "stop the writer"
	wait $WRITER
	check_rc "$job: the writer ran to its stop" $? 0 "$T/writer.log"
	MB=$(find "$T/near/$job/busy" -name manifest.json | head -1)
	IDB=$job/busy@$(basename "$(dirname "$MB")")
	na=$(fact "$MB" tables public.busy_a)
	[ "$n_before" -lt "$na" ] && [ "$na" -lt "$n_after" ] &&
	    ok "$job: the writer committed rows during the backup ($n_before < $na < $n_after)" ||
	    fail "$job: no write during the backup: $n_before, manifest $na, $n_after"
	check "$job: restore the busy database" Z restore "$IDB" --to "${job}_copy"
	python3 -c 'import json,sys
for t, n in json.load(open(sys.argv[1]))["facts"]["tables"].items():
    print(t, n)' "$MB" >"$T/busy.facts"
	[ "$(wc -l <"$T/busy.facts")" = 3 ] && ok "$job: the manifest counts 3 tables" ||
	    fail "$job: tables: $(cat "$T/busy.facts")"
	while read -r t n; do
		got=$(busy_count "${job}_copy" "$t")
		[ "$got" = "$n" ] && ok "$job: $t: $got rows restored, as the manifest says" ||
		    fail "$job: $t: $got rows restored, the manifest says $n (not the same snapshot)"
	done <"$T/busy.facts"
done

# ---- encrypted: the facts are sealed; test-restore needs the identity -------
"$CTL" keygen -o "$T/id.txt" 2>"$T/recipient.txt" || fail "keygen"
sed -n 's/^Public key: //p' "$T/recipient.txt" >"$T/recipients"
sed -e "s|^compression = .*|compression = zstd:3\nencryption = age\nage_recipients_file = $T/recipients|" \
    -e "s|$T/near|$T/enc|; s|$T/far|$T/enc2|" "$T/zb.ini" >"$T/enc.ini"
chmod 600 "$T/enc.ini"
ZB_INI=$T/enc.ini check "encrypted run" Z run pgenc
ZB_INI=$T/enc.ini check "list encrypted" Z list --json
IDE=$(grep -o '"pgone/db2@[^"]*"' "$T/out" | head -1 | tr -d '"')
ME=$(find "$T/enc/pgone" -name manifest.json | head -1)
grep -q '"facts_age"' "$ME" && ! grep -q 'pgbench_accounts' "$ME" &&
    ok "encrypted manifest hides the table names" || fail "facts in clear"
ZB_INI=$T/enc.ini check_fails 1 "test-restore of encrypted without identity" \
    Z test-restore "$IDE"
grep_err "says an identity is needed" 'identity'
ZB_INI=$T/enc.ini check "test-restore of encrypted with --identity" \
    Z test-restore "$IDE" --identity "$T/id.txt"

# ---- failures: clear errors, no manifest -------------------------------------
check_fails 1 "wrong password fails" Z run badpw
grep_err "wrong password names the source" '\[source:badpw\].*password authentication failed'
check_fails 1 "dead port fails" Z run dead
grep_err "dead port names the source" '\[source:dead\].*cannot connect'
[ -z "$(find "$T/near" -path '*badpw*' -o -path '*dead*' | head -1)" ] &&
    ok "failed runs left nothing" || fail "failed runs left files"

# Killed mid-dump: a slow sink and a small buffer hold pg_dump back; the
# server dies.
sed -e 's/^compression = .*/compression = none\nmax_buffer_mb = 1\nchunk_kb = 64/' \
    "$T/zb.ini" >"$T/slow.ini"
chmod 600 "$T/slow.ini"
ZB_INI=$T/slow.ini Z run pgslow >"$T/slow.out" 2>"$T/slow.err" &
RUN=$!
for i in $(seq 1 100); do
	pgrep -f "pg_dump --format=custom" >/dev/null && break
	sleep 0.1
done
sleep 1
pg_kill_hard
wait $RUN
rc=$?
check_rc "run fails (exit 1) when the server dies" $rc 1 "$T/slow.err"
grep -q 'pg_dump of "db2" \(exited\|was killed\)' "$T/slow.err" &&
    ok "the error names pg_dump and the database" ||
    fail "mid-dump error: $(tail -3 "$T/slow.err")"
[ -z "$(find "$T/near/pgone" -name manifest.json 2>/dev/null | head -1)" ] &&
    ok "no manifest after the server died" || fail "manifest written"
pg_restart || fail "pg_restart"

left=$(pg_psql -Atc "SELECT count(*) FROM pg_database WHERE datname LIKE 'zb\_%'")
[ "$left" = 0 ] && ok "still no scratch database" || fail "$left left"

# ---- secrets: argv and environments as they ran, every log and store --------
procwatch_check "the password" zentoria-backup pg_dump pg_dumpall pg_restore psql
no_secret_in "no password in any output, log, manifest or store" "$T" "$PG_LOG"
finish
