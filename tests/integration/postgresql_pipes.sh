#!/bin/bash
# postgresql_pipes.sh - the postgresql source's pipes on the host's fd
# adapters (ABI 1.5), against a real PostgreSQL 15 on 127.0.0.1:
# pg_dump's output refused by the header check (on_data) ends the run
# with the reason and no manifest; a pg_restore that quits early, and a
# restore from a corrupt copy, fail without leaving the target or a
# scratch database behind.
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/pg.sh"

pg_start || { echo "cannot start PostgreSQL"; exit 1; }
export -n PG_PASSWORD
pg_seed_sample db1 || exit 1

Z() {
	env -u PGHOST -u PGUSER -u PGPASSFILE -u PGPORT -u PG_PASSWORD \
	    "$CTL" -c "$T/zb.ini" "$@"
}

# A pg_dump whose output is not a custom-format archive
cat >"$T/fake_pg_dump" <<'SH'
#!/bin/sh
echo "this is not an archive"
head -c 3000000 /dev/zero
SH
# A pg_restore that reads a little, complains and quits
cat >"$T/fake_pg_restore" <<'SH'
#!/bin/sh
head -c 100000 >/dev/null
echo "fake pg_restore gave up" >&2
exit 1
SH
chmod 755 "$T/fake_pg_dump" "$T/fake_pg_restore"

cat >"$T/zb.ini" <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = none

[sink:near]
plugin = local
path = $T/near

[source:pg]
plugin = postgresql
conninfo = host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres
password_file = $PG_PASSWORD_FILE
databases = db1
globals = no

[source:fakedump]
plugin = postgresql
conninfo = host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres
password_file = $PG_PASSWORD_FILE
databases = db1
globals = no
pg_dump = $T/fake_pg_dump

[source:quitter]
plugin = postgresql
conninfo = host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres
password_file = $PG_PASSWORD_FILE
databases = db1
globals = no
pg_restore = $T/fake_pg_restore

[job:pg]
source = pg
sinks = near

[job:fakedump]
source = fakedump
sinks = near

[job:quitter]
source = quitter
sinks = near
INI
chmod 600 "$T/zb.ini"

scratch_left() {
	pg_psql -Atc "SELECT count(*) FROM pg_database WHERE datname LIKE 'zb\_%'"
}

# pg_dump's output is checked as it is read (the adapter's on_data)
check_fails 1 "a pg_dump output without a custom-format header fails" Z run fakedump
grep_err "the error names pg_dump, the database and the reason" \
    'output of pg_dump for "db1": '
[ -z "$(find "$T/near" -path '*fakedump*' -name manifest.json 2>/dev/null)" ] &&
    ok "no manifest for it" || fail "a manifest was written"

# pg_restore quits early: the restore fails, nothing is left
check "run quitter" Z run quitter
check "list --json" Z list --json --source quitter
idq=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$T/out")
check_fails 1 "a pg_restore that quits early fails the restore" Z restore "$idq" --to db1_quit
grep_err "its last words are logged" "fake pg_restore gave up"
[ -z "$(pg_psql -Atc "SELECT 1 FROM pg_database WHERE datname = 'db1_quit'")" ] &&
    ok "no target database" || fail "db1_quit exists"
[ "$(scratch_left)" = 0 ] && ok "no scratch database left" || fail "scratch left"

# A corrupt copy: pg_restore is killed before end of input, nothing left
check "run pg" Z run pg
check "list --json" Z list --json --source pg
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$T/out")
check "restore db1 --to db1_good" Z restore "$id" --to db1_good
[ "$(pg_psql -d db1_good -Atc "SELECT count(*) FROM pgbench_accounts")" = \
    "$(pg_psql -d db1 -Atc "SELECT count(*) FROM pgbench_accounts")" ] &&
    ok "db1_good has the rows" || fail "db1_good rows"
data=$(find "$T/near/pg/db1" -name 'data.*' ! -name '*.sha256' | head -1)
flip_byte "$data" -100
check_fails 1 "a restore from a corrupt copy fails" Z restore "$id" --to db1_bad
grep_err "on the hash" "does not match the manifest"
[ -z "$(pg_psql -Atc "SELECT 1 FROM pg_database WHERE datname = 'db1_bad'")" ] &&
    ok "no target database" || fail "db1_bad exists"
[ "$(scratch_left)" = 0 ] && ok "no scratch database left" || fail "scratch left"
finish
