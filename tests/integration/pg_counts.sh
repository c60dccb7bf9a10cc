#!/bin/bash
# pg_counts.sh - the postgresql source counts every table's rows in the
# archive as pg_dump streams it (plugins/postgresql/pg_scan.c), against a
# real PostgreSQL 15: values holding newlines, carriage returns,
# backslashes and "\." lines, an empty table, a table without columns,
# partitions, an unlogged table, odd schema and table names, a column
# list longer than the scanner keeps, large objects, a materialized view
# and a sequence.  The manifest's counts equal count(*) on the server,
# table for table, and test-restore passes.  When the archive cannot be
# counted (pg_dump -Z6; a pg_dump wrapper that writes INSERT statements,
# or one that appends bytes that are no data block),
# count(*) on the dump's snapshot gives the same numbers, and the log
# says which way they were counted.
. "$(dirname "$0")/lib.sh"
. "$ZB_SRCDIR/tests/lib/pg.sh"

pg_start || { echo "cannot start PostgreSQL"; exit 1; }
export -n PG_PASSWORD
pg_psql -c "CREATE DATABASE tricky" || exit 1
pg_psql -d tricky >/dev/null <<'EOF' || exit 1
CREATE TABLE lines (id int, body text);
INSERT INTO lines VALUES (1, E'one\ntwo\nthree'), (2, E'\\.'),
	(3, E'\\.\n\\.\n\n'), (4, E'back\\slash\there'), (5, NULL), (6, ''),
	(7, E'crlf\r\n'), (8, E'\n\n\n');
CREATE TABLE empty (a int);
CREATE TABLE nocols ();
INSERT INTO nocols SELECT FROM generate_series(1, 7);
CREATE UNLOGGED TABLE unlogged AS SELECT g FROM generate_series(1, 1234) g;
CREATE TABLE parted (k int, v text) PARTITION BY RANGE (k);
CREATE TABLE parted_lo PARTITION OF parted FOR VALUES FROM (0) TO (100);
CREATE TABLE parted_hi PARTITION OF parted FOR VALUES FROM (100) TO (1000);
INSERT INTO parted SELECT g, md5(g::text) FROM generate_series(0, 999) g;
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."we.ird tab" ("a b" int);
INSERT INTO "Odd Schema"."we.ird tab" SELECT generate_series(1, 42);
DO $$ BEGIN EXECUTE (SELECT 'CREATE TABLE wide (' || string_agg(format(
	'column_with_a_rather_long_name_%s int', g), ', ') || ')'
	FROM generate_series(1, 20) g); END $$;
INSERT INTO wide (column_with_a_rather_long_name_1)
	SELECT generate_series(1, 3);
CREATE MATERIALIZED VIEW mv AS SELECT * FROM lines;
CREATE SEQUENCE seq;
SELECT setval('seq', 77);
SELECT lo_from_bytea(0, '\x0a0a0a'::bytea);
SELECT lo_from_bytea(0, convert_to(E'\\.\n\n\n', 'UTF8'));
CREATE TABLE big AS SELECT g AS id, md5(g::text) AS h
	FROM generate_series(1, 300000) g;
EOF

# What the manifest must say: every ordinary table and count(*) on it.
pg_psql -d tricky -At -F '|' >"$T/want" <<'EOF' || exit 1
SELECT 'public.lines', count(*) FROM lines UNION ALL
SELECT 'public.empty', count(*) FROM empty UNION ALL
SELECT 'public.nocols', count(*) FROM nocols UNION ALL
SELECT 'public.unlogged', count(*) FROM unlogged UNION ALL
SELECT 'public.parted_lo', count(*) FROM parted_lo UNION ALL
SELECT 'public.parted_hi', count(*) FROM parted_hi UNION ALL
SELECT 'Odd Schema.we.ird tab', count(*) FROM "Odd Schema"."we.ird tab"
UNION ALL SELECT 'public.wide', count(*) FROM wide UNION ALL
SELECT 'public.big', count(*) FROM big ORDER BY 1
EOF
grep -qx 'public.lines|8' "$T/want" && grep -qx 'public.big|300000' "$T/want" ||
    { echo "unexpected counts on the server: $(cat "$T/want")"; exit 1; }

# A pg_dump that writes INSERT statements instead of COPY text
cat >"$T/pg_dump_inserts" <<SH
#!/bin/sh
exec "$PG_BIN/pg_dump" --inserts "\$@"
SH
chmod 755 "$T/pg_dump_inserts"
# A pg_dump whose archive ends in bytes that are no data block
cat >"$T/pg_dump_junk" <<SH
#!/bin/sh
"$PG_BIN/pg_dump" "\$@" || exit
printf '\\002junk'
SH
chmod 755 "$T/pg_dump_junk"

source_ini() {	# name [extra line]
	cat <<INI
[source:$1]
plugin = postgresql
conninfo = host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres
password_file = $PG_PASSWORD_FILE
databases = tricky
globals = no
pg_dump = ${3:-$PG_BIN/pg_dump}
${2:-}
[job:$1]
source = $1
sinks = disk
INI
}
{
	cat <<INI
[daemon]
plugin_dir = $ZB_TEST_PLUGIN_DIR
state_dir = $T/state
compression = zstd:1

[sink:disk]
plugin = local
path = $T/disk
INI
	source_ini stream
	source_ini gz "dump_compression = 6"
	source_ini inserts "" "$T/pg_dump_inserts"
	source_ini junk "" "$T/pg_dump_junk"
} >"$T/zb.ini"
chmod 600 "$T/zb.ini"

Z() {
	env -u PGHOST -u PGUSER -u PGPASSFILE -u PGPORT -u PG_PASSWORD \
	    "$CTL" -c "$T/zb.ini" "$@"
}

# manifest_counts JOB: the manifest's tables, as "name|rows" lines
manifest_counts() {
	python3 - "$(find "$T/disk/$1/tricky" -name manifest.json | head -1)" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["facts"]["tables"]
for k in sorted(t): print("%s|%d" % (k, t[k]))
PY
}

same_counts() {	# what job
	manifest_counts "$2" >"$T/got" 2>&1
	if cmp -s <(LC_ALL=C sort "$T/want") <(LC_ALL=C sort "$T/got"); then
		ok "$1: every table's rows as count(*) has them"
	else
		fail "$1: counts differ: $(diff <(LC_ALL=C sort "$T/want") \
		    <(LC_ALL=C sort "$T/got") | head -8)"
	fi
}

# ---- counted in the archive ------------------------------------------------
check "run: counts read from the dump" Z run stream
grep_err "the log says they were counted in the dump" \
    '"tricky": 9 tables, 302294 rows in the dump (counted as it streamed)'
grep -q 'count(\*)' "$T/err" && fail "count(*) used: $(grep 'count(\*)' "$T/err")"
same_counts "counted in the dump" stream
Z list --json >"$T/list.json"
ID=$(grep -o '"stream/tricky@[^"]*"' "$T/list.json" | head -1 | tr -d '"')
[ -n "$ID" ] || fail "no artifact stream/tricky: $(cat "$T/list.json")"
check "test-restore compares them with the restored tables" Z test-restore "$ID"

# ---- compressed by pg_dump: count(*) on the snapshot -----------------------
check "run: pg_dump -Z6" Z run gz
grep_err "the log says count(*) counted them, and why" \
    'rows counted with count(\*) on the dump.s snapshot: the archive.s data is compressed'
same_counts "count(*) for a compressed dump" gz

# ---- INSERT statements: the scanner gives up, count(*) takes over ----------
check "run: a pg_dump writing INSERT statements" Z run inserts
grep_err "a warning names the table without COPY data" \
    'warning.*cannot count rows in the archive (no COPY data for table'
same_counts "count(*) when the archive has no COPY data" inserts

# ---- the scanner refuses the archive midway: count(*) at its end -------------
check "run: an archive with trailing junk" Z run junk
grep_err "a warning says what the scanner found" \
    'warning.*cannot count rows in the archive (unknown data block type)'
same_counts "count(*) after the scanner gave up" junk

finish
